//! From a [`BExpr`] to a classic BPF program: a DAG of basic blocks built with
//! continuations (short-circuit evaluation, no jump-to-jump), then optimized:
//!
//! 1. **Jump threading with path facts**: each edge carries what is known to hold on it
//!    (`[12] == 0x800`, `[23] != 6`, ...). A block whose test is decided by the facts of an
//!    incoming edge is skipped on that edge. Loads whose value is known become constants, so
//!    arithmetic folds too. This removes the repeated EtherType and protocol checks that
//!    primitives generate independently.
//! 2. **Dead and useless blocks**: unreachable blocks and tests whose two branches meet.
//! 3. **Merging** of identical blocks (same statements, test and successors).
//! 4. **Redundant load elimination**: a load of the value A (or X, or a scratch word)
//!    already holds on every incoming path is dropped.
//! 5. **Layout**: a topological order (jumps only go forward), with `ja` trampolines for
//!    targets more than 255 instructions away.

use std::collections::HashMap;

use super::codegen::BExpr;
use super::insn::{Insn, class, op::*};

/// How a block ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Ret(u32),
    Cond {
        code: u16,
        k: u32,
        jt: usize,
        jf: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Block {
    stmts: Vec<Insn>,
    kind: Kind,
    /// Leaves no state for later blocks: may be skipped when its test is decided.
    pure: bool,
}

/// Symbolic value of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Val {
    Const(u32),
    /// A packet (or ancillary) load: opcode, k, and the value of X for indirect loads.
    Load(u16, u32, u32),
    Msh(u32),
    Len,
    Alu(u16, u32, u32),
    Neg(u32),
    Fresh(u32),
}

const NO_X: u32 = u32::MAX;
const MAX_FACTS: usize = 64;
const MAX_PASSES: usize = 16;

/// Most values a `OneOf` fact keeps.
const MAX_ONE_OF: usize = 8;

/// Something known to hold on an edge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fact {
    /// `value jop k` had the given outcome.
    Test(u32, u16, u32, bool),
    /// The value is one of these (from `jeq` outcomes on the paths into a block).
    OneOf(u32, Vec<u32>),
}

/// Adds the outcome of `v jop k` to `facts`.
fn learn(facts: &mut Vec<Fact>, v: u32, jop: u16, k: u32, taken: bool) {
    let pos = facts
        .iter()
        .position(|f| matches!(f, Fact::OneOf(fv, _) if *fv == v));
    if jop == JEQ && taken {
        if let Some(i) = pos {
            facts.remove(i);
        }
        facts.push(Fact::OneOf(v, vec![k]));
        return;
    }
    if let Some(i) = pos
        && let Fact::OneOf(_, set) = &mut facts[i]
    {
        let kept: Vec<u32> = set
            .iter()
            .copied()
            .filter(|&c| apply(jop, c, k) == taken)
            .collect();
        if !kept.is_empty() {
            *set = kept;
        }
    }
    facts.push(Fact::Test(v, jop, k, taken));
    if facts.len() > MAX_FACTS {
        facts.remove(0);
    }
}

/// What holds on every one of two sets of paths.
fn meet_facts(old: &mut Vec<Fact>, new: &[Fact]) {
    old.retain_mut(|f| match f {
        Fact::Test(..) => new.contains(f),
        Fact::OneOf(v, set) => {
            let other = new.iter().find_map(|g| match g {
                Fact::OneOf(w, s2) if w == v => Some(s2),
                _ => None,
            });
            match other {
                Some(s2) => {
                    for &c in s2 {
                        if !set.contains(&c) {
                            set.push(c);
                        }
                    }
                    set.len() <= MAX_ONE_OF
                }
                None => false,
            }
        }
    });
}

/// The single value `v` is known to have, if any.
fn known(facts: &[Fact], v: u32) -> Option<u32> {
    facts.iter().find_map(|f| match f {
        Fact::OneOf(w, set) if *w == v && set.len() == 1 => Some(set[0]),
        _ => None,
    })
}

/// Symbolic steps the threading pass may spend on one program: the pass is quadratic in
/// the worst case, so huge expressions get less optimization instead of more time.
const WORK_BUDGET: u64 = 4_000_000;

#[derive(Default)]
struct Values {
    map: HashMap<Val, u32>,
    vals: Vec<Val>,
    fresh: u32,
    /// Remaining symbolic steps (see [`WORK_BUDGET`]).
    budget: u64,
}

impl Values {
    fn intern(&mut self, v: Val) -> u32 {
        if let Some(&id) = self.map.get(&v) {
            return id;
        }
        let id = self.vals.len() as u32;
        self.vals.push(v);
        self.map.insert(v, id);
        id
    }
    fn fresh(&mut self) -> u32 {
        self.fresh += 1;
        self.intern(Val::Fresh(self.fresh))
    }
    fn konst(&self, id: u32) -> Option<u32> {
        match self.vals.get(id as usize) {
            Some(Val::Const(c)) => Some(*c),
            _ => None,
        }
    }
    fn alu(&mut self, o: u16, a: u32, b: u32) -> u32 {
        if let (Some(x), Some(y)) = (self.konst(a), self.konst(b)) {
            let r = match o {
                ADD => Some(x.wrapping_add(y)),
                SUB => Some(x.wrapping_sub(y)),
                MUL => Some(x.wrapping_mul(y)),
                DIV => x.checked_div(y),
                MOD => x.checked_rem(y),
                AND => Some(x & y),
                OR => Some(x | y),
                XOR => Some(x ^ y),
                LSH => Some(x.checked_shl(y).unwrap_or(0)),
                RSH => Some(x.checked_shr(y).unwrap_or(0)),
                _ => None,
            };
            if let Some(r) = r {
                return self.intern(Val::Const(r));
            }
        }
        self.intern(Val::Alu(o, a, b))
    }
}

fn apply(jop: u16, a: u32, k: u32) -> bool {
    match jop {
        JEQ => a == k,
        JGT => a > k,
        JGE => a >= k,
        _ => a & k != 0,
    }
}

/// What the facts say about `v jop k`.
fn decide(vals: &Values, facts: &[Fact], v: u32, jop: u16, k: u32) -> Option<bool> {
    if let Some(c) = vals.konst(v) {
        return Some(apply(jop, c, k));
    }
    let (mut lo, mut hi) = (0u32, u32::MAX);
    for f in facts {
        match f {
            Fact::OneOf(fv, set) if *fv == v && !set.is_empty() => {
                let first = apply(jop, set[0], k);
                if set.iter().all(|&c| apply(jop, c, k) == first) {
                    return Some(first);
                }
            }
            &Fact::Test(fv, fop, fk, r) if fv == v => match (fop, r) {
                (JEQ, false) if jop == JEQ && fk == k => return Some(false),
                (JGT, true) if fk < u32::MAX => lo = lo.max(fk + 1),
                (JGT, false) => hi = hi.min(fk),
                (JGE, true) => lo = lo.max(fk),
                (JGE, false) if fk > 0 => hi = hi.min(fk - 1),
                (JSET, true) if jop == JSET && fk & !k == 0 => return Some(true),
                (JSET, false) if jop == JSET && k & !fk == 0 => return Some(false),
                _ => {}
            },
            _ => {}
        }
    }
    if lo > hi {
        return None; // contradictory: the edge is dead; leave it alone
    }
    match jop {
        JEQ if k < lo || k > hi => Some(false),
        JGT if lo > k => Some(true),
        JGT if hi <= k => Some(false),
        JGE if lo >= k => Some(true),
        JGE if hi < k => Some(false),
        _ if lo == hi => Some(apply(jop, lo, k)),
        _ => None,
    }
}

/// Register contents during symbolic execution (`None`: not known yet).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Regs {
    a: Option<u32>,
    x: Option<u32>,
    mem: [Option<u32>; 16],
}

impl Regs {
    fn meet(&mut self, o: &Regs) {
        let m = |a: &mut Option<u32>, b: Option<u32>| {
            if *a != b {
                *a = None;
            }
        };
        m(&mut self.a, o.a);
        m(&mut self.x, o.x);
        for i in 0..16 {
            m(&mut self.mem[i], o.mem[i]);
        }
    }
}

/// Executes one statement symbolically. Returns false if it is redundant (changes nothing).
fn step(vals: &mut Values, r: &mut Regs, s: &Insn, facts: &[Fact]) -> bool {
    let k = s.k;
    let get = |vals: &mut Values, v: &mut Option<u32>| match *v {
        Some(v) => v,
        None => {
            let f = vals.fresh();
            *v = Some(f);
            f
        }
    };
    let subst = |vals: &mut Values, v: u32| match known(facts, v) {
        Some(c) => vals.intern(Val::Const(c)),
        None => v,
    };
    match class(s.code) {
        LD => {
            let v = match s.code & 0xe0 {
                ABS => vals.intern(Val::Load(s.code, k, NO_X)),
                IND => {
                    let x = get(vals, &mut r.x);
                    vals.intern(Val::Load(s.code, k, x))
                }
                LEN => vals.intern(Val::Len),
                MEM => get(vals, &mut r.mem[(k & 15) as usize]),
                _ => vals.intern(Val::Const(k)),
            };
            let v = subst(vals, v);
            if r.a == Some(v) {
                return false;
            }
            r.a = Some(v);
        }
        LDX => {
            let v = match s.code & 0xe0 {
                MEM => get(vals, &mut r.mem[(k & 15) as usize]),
                LEN => vals.intern(Val::Len),
                MSH => vals.intern(Val::Msh(k)),
                _ => vals.intern(Val::Const(k)),
            };
            if r.x == Some(v) {
                return false;
            }
            r.x = Some(v);
        }
        ST | STX => {
            let v = if class(s.code) == ST {
                get(vals, &mut r.a)
            } else {
                get(vals, &mut r.x)
            };
            let slot = &mut r.mem[(k & 15) as usize];
            if *slot == Some(v) {
                return false;
            }
            *slot = Some(v);
        }
        ALU => {
            let a = get(vals, &mut r.a);
            let o = s.code & 0xf0;
            r.a = Some(if o == NEG {
                match vals.konst(a) {
                    Some(c) => vals.intern(Val::Const(c.wrapping_neg())),
                    None => vals.intern(Val::Neg(a)),
                }
            } else {
                let b = if s.code & X != 0 {
                    get(vals, &mut r.x)
                } else {
                    vals.intern(Val::Const(k))
                };
                vals.alu(o, a, b)
            });
        }
        _ => {
            if s.code & 0xf8 == TXA {
                let x = get(vals, &mut r.x);
                if r.a == Some(x) {
                    return false;
                }
                r.a = Some(x);
            } else {
                let a = get(vals, &mut r.a);
                if r.x == Some(a) {
                    return false;
                }
                r.x = Some(a);
            }
        }
    }
    true
}

/// The value tested by a block and the constant it is compared with, if the comparison
/// operand is known.
fn test_of(vals: &mut Values, b: &Block, facts: &[Fact]) -> Option<(u32, u16, u32)> {
    let Kind::Cond { code, k, .. } = b.kind else {
        return None;
    };
    let cost = (b.stmts.len() + facts.len()) as u64 + 1;
    if vals.budget < cost {
        vals.budget = 0;
        return None;
    }
    vals.budget -= cost;
    let mut r = Regs::default();
    for s in &b.stmts {
        step(vals, &mut r, s, facts);
    }
    let a = match r.a {
        Some(a) => a,
        None => vals.fresh(),
    };
    let k = if code & X != 0 { vals.konst(r.x?)? } else { k };
    Some((a, code & 0xf0, k))
}

/// The program being optimized.
pub(crate) struct Graph {
    blocks: Vec<Block>,
    entry: usize,
    /// Blocks built for shared subexpressions, by (node, true target, false target).
    shared: HashMap<(*const BExpr, usize, usize), usize>,
}

impl Graph {
    /// Builds the block DAG: block 0 rejects, block 1 accepts with `accept`.
    pub fn build(e: &BExpr, accept: u32) -> Graph {
        let mut g = Graph {
            blocks: vec![
                Block {
                    stmts: vec![],
                    kind: Kind::Ret(0),
                    pure: true,
                },
                Block {
                    stmts: vec![],
                    kind: Kind::Ret(accept),
                    pure: true,
                },
            ],
            entry: 0,
            shared: HashMap::new(),
        };
        g.entry = g.gen_block(e, 1, 0);
        g
    }

    fn gen_block(&mut self, e: &BExpr, t: usize, f: usize) -> usize {
        match e {
            BExpr::True => t,
            BExpr::False => f,
            BExpr::Not(a) => self.gen_block(a, f, t),
            BExpr::And(a, b) => {
                let bb = self.gen_block(b, t, f);
                self.gen_block(a, bb, f)
            }
            BExpr::Or(a, b) => {
                let bb = self.gen_block(b, t, f);
                self.gen_block(a, t, bb)
            }
            BExpr::Ite(c, x, y) => {
                let by = self.gen_block(y, t, f);
                let bx = self.gen_block(x, t, f);
                self.gen_block(c, bx, by)
            }
            BExpr::Shared(rc) => {
                let key = (std::rc::Rc::as_ptr(rc), t, f);
                if let Some(&b) = self.shared.get(&key) {
                    return b;
                }
                let b = self.gen_block(rc, t, f);
                self.shared.insert(key, b);
                b
            }
            BExpr::Leaf(l) => {
                self.blocks.push(Block {
                    stmts: l.stmts.clone(),
                    kind: Kind::Cond {
                        code: l.code,
                        k: l.k,
                        jt: t,
                        jf: f,
                    },
                    pure: l.pure,
                });
                self.blocks.len() - 1
            }
        }
    }

    /// Number of blocks (a size guard for callers).
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.blocks.len()];
        seen[self.entry] = true;
        // Edges go from higher to lower ids.
        for b in (0..=self.entry).rev() {
            if !seen[b] {
                continue;
            }
            if let Kind::Cond { jt, jf, .. } = self.blocks[b].kind {
                seen[jt] = true;
                seen[jf] = true;
            }
        }
        seen
    }

    /// Runs all passes.
    pub fn optimize(&mut self) {
        let mut vals = Values {
            budget: WORK_BUDGET,
            ..Values::default()
        };
        for _ in 0..MAX_PASSES {
            let a = self.thread(&mut vals);
            let b = self.skip_useless();
            let c = self.merge();
            if !(a || b || c) {
                break;
            }
        }
        self.eliminate_loads();
        self.eliminate_dead_stores();
        self.merge();
    }

    /// Pass 4b: stores to scratch words that no later instruction reads.
    fn eliminate_dead_stores(&mut self) {
        let reach = self.reachable();
        let mut live_in = vec![0u16; self.blocks.len()];
        // Successors have lower ids: ascending order sees them first.
        for b in 0..self.blocks.len() {
            if !reach[b] {
                continue;
            }
            let mut live = match self.blocks[b].kind {
                Kind::Cond { jt, jf, .. } => live_in[jt] | live_in[jf],
                Kind::Ret(_) => 0,
            };
            let stmts = std::mem::take(&mut self.blocks[b].stmts);
            let mut kept: Vec<Insn> = Vec::with_capacity(stmts.len());
            for s in stmts.into_iter().rev() {
                let bit = 1u16 << (s.k & 15);
                match class(s.code) {
                    ST | STX if live & bit == 0 => continue,
                    ST | STX => live &= !bit,
                    LD | LDX if s.code & 0xe0 == MEM => live |= bit,
                    _ => {}
                }
                kept.push(s);
            }
            kept.reverse();
            self.blocks[b].stmts = kept;
            live_in[b] = live;
        }
    }

    /// Pass 1. Returns whether anything changed.
    fn thread(&mut self, vals: &mut Values) -> bool {
        let n = self.blocks.len();
        let reach = self.reachable();
        let mut infacts: Vec<Option<Vec<Fact>>> = vec![None; n];
        infacts[self.entry] = Some(Vec::new());
        let mut changed = false;
        for b in (0..=self.entry).rev() {
            if !reach[b] {
                continue;
            }
            let Kind::Cond { code, k, jt, jf } = self.blocks[b].kind else {
                continue;
            };
            if vals.budget == 0 {
                break;
            }
            let facts = infacts[b].take().unwrap_or_default();
            let test = test_of(vals, &self.blocks[b], &facts);
            let mut targets = [jt, jf];
            for (i, target) in targets.iter_mut().enumerate() {
                let taken = i == 0;
                let mut ef = facts.clone();
                if let Some((a, jop, kk)) = test {
                    if decide(vals, &facts, a, jop, kk).is_some_and(|r| r != taken) {
                        // This edge is never taken; keep it, it is cut elsewhere.
                        continue;
                    }
                    learn(&mut ef, a, jop, kk, taken);
                }
                let (t, c) = self.follow(vals, *target, &mut ef, true);
                changed |= c;
                *target = t;
                match &mut infacts[*target] {
                    slot @ None => *slot = Some(ef),
                    Some(old) => {
                        let cost = (old.len() * ef.len()) as u64 / 4 + 1;
                        vals.budget = vals.budget.saturating_sub(cost);
                        meet_facts(old, &ef);
                    }
                }
            }
            // A test decided by the facts on every path into the block.
            if let Some((a, jop, kk)) = test
                && let Some(r) = decide(vals, &facts, a, jop, kk)
            {
                let t = if r { targets[0] } else { targets[1] };
                targets = [t, t];
                changed = true;
            }
            self.blocks[b].kind = Kind::Cond {
                code,
                k,
                jt: targets[0],
                jf: targets[1],
            };
        }
        changed
    }

    /// Follows an edge into `target` past every block whose test `facts` decide; with
    /// `split`, also past chains that end in the same block for each value a `OneOf` fact
    /// allows. Returns the final target and whether it moved.
    fn follow(
        &self,
        vals: &mut Values,
        mut target: usize,
        facts: &mut Vec<Fact>,
        split: bool,
    ) -> (usize, bool) {
        let mut moved = false;
        loop {
            let blk = &self.blocks[target];
            let Kind::Cond { jt, jf, .. } = blk.kind else {
                break;
            };
            if !blk.pure {
                break;
            }
            let Some((a, jop, kk)) = test_of(vals, blk, facts) else {
                break;
            };
            if let Some(r) = decide(vals, facts, a, jop, kk) {
                target = if r { jt } else { jf };
                learn(facts, a, jop, kk, r);
                moved = true;
                continue;
            }
            if !split {
                break;
            }
            let set = facts.iter().find_map(|f| match f {
                Fact::OneOf(v, set) if *v == a && set.len() > 1 => Some(set.clone()),
                _ => None,
            });
            let Some(set) = set else { break };
            let mut end = None;
            for c in set {
                let mut f2 = facts.clone();
                learn(&mut f2, a, JEQ, c, true);
                let (t, _) = self.follow(vals, target, &mut f2, false);
                if end.is_some_and(|e| e != t) || t == target {
                    end = None;
                    break;
                }
                end = Some(t);
            }
            match end {
                Some(t) => {
                    target = t;
                    moved = true;
                }
                None => break,
            }
        }
        (target, moved)
    }

    /// Pass 2: a test whose branches meet does nothing (blocks are self-contained before
    /// load elimination).
    fn skip_useless(&mut self) -> bool {
        let mut changed = false;
        let resolve = |blocks: &[Block], mut t: usize| {
            while let Kind::Cond { jt, jf, .. } = blocks[t].kind {
                if jt != jf || !blocks[t].pure {
                    break;
                }
                t = jt;
            }
            t
        };
        for b in 0..self.blocks.len() {
            if let Kind::Cond { code, k, jt, jf } = self.blocks[b].kind {
                let (t, f) = (resolve(&self.blocks, jt), resolve(&self.blocks, jf));
                if (t, f) != (jt, jf) {
                    changed = true;
                    self.blocks[b].kind = Kind::Cond {
                        code,
                        k,
                        jt: t,
                        jf: f,
                    };
                }
            }
        }
        let e = resolve(&self.blocks, self.entry);
        if e != self.entry {
            self.entry = e;
            changed = true;
        }
        changed
    }

    /// Pass 3: identical blocks become one.
    fn merge(&mut self) -> bool {
        let reach = self.reachable();
        let mut canon: Vec<usize> = (0..self.blocks.len()).collect();
        let mut seen: HashMap<Block, usize> = HashMap::new();
        let mut changed = false;
        for b in 0..self.blocks.len() {
            if !reach[b] {
                continue;
            }
            if let Kind::Cond { code, k, jt, jf } = self.blocks[b].kind {
                let (t, f) = (canon[jt], canon[jf]);
                if (t, f) != (jt, jf) {
                    self.blocks[b].kind = Kind::Cond {
                        code,
                        k,
                        jt: t,
                        jf: f,
                    };
                }
            }
            match seen.get(&self.blocks[b]) {
                Some(&c) => {
                    canon[b] = c;
                    changed = true;
                }
                None => {
                    seen.insert(self.blocks[b].clone(), b);
                }
            }
        }
        self.entry = canon[self.entry];
        changed
    }

    /// Pass 4: drops loads of values the registers already hold on every incoming path.
    fn eliminate_loads(&mut self) {
        let n = self.blocks.len();
        let reach = self.reachable();
        let mut vals = Values::default();
        let mut inregs: Vec<Option<Regs>> = vec![None; n];
        inregs[self.entry] = Some(Regs::default());
        for b in (0..=self.entry).rev() {
            if !reach[b] {
                continue;
            }
            let mut r = inregs[b].take().unwrap_or_default();
            let stmts = std::mem::take(&mut self.blocks[b].stmts);
            let mut kept = Vec::with_capacity(stmts.len());
            for s in stmts {
                if step(&mut vals, &mut r, &s, &[]) {
                    kept.push(s);
                }
            }
            self.blocks[b].stmts = kept;
            if let Kind::Cond { jt, jf, .. } = self.blocks[b].kind {
                for t in [jt, jf] {
                    match &mut inregs[t] {
                        slot @ None => *slot = Some(r),
                        Some(old) => old.meet(&r),
                    }
                }
            }
        }
    }

    /// Pass 5: the instructions, in a topological order with forward jumps.
    pub fn emit(&self) -> Vec<Insn> {
        let reach = self.reachable();
        let order: Vec<usize> = (0..=self.entry).rev().filter(|&b| reach[b]).collect();
        // Per block: whether jt / jf needs a `ja` trampoline right after the test.
        let mut tramp: HashMap<usize, (bool, bool)> = HashMap::new();
        loop {
            let mut pos = vec![0usize; self.blocks.len()];
            let mut p = 0;
            for &b in &order {
                pos[b] = p;
                let (t, f) = tramp.get(&b).copied().unwrap_or_default();
                p += self.blocks[b].stmts.len() + 1 + usize::from(t) + usize::from(f);
            }
            let mut grew = false;
            let mut out = Vec::with_capacity(p);
            for &b in &order {
                let blk = &self.blocks[b];
                out.extend_from_slice(&blk.stmts);
                match blk.kind {
                    Kind::Ret(k) => out.push(Insn::stmt(RET | K, k)),
                    Kind::Cond { code, k, jt, jf } => {
                        let (ht, hf) = tramp.get(&b).copied().unwrap_or_default();
                        let here = out.len();
                        let dt = pos[jt] - (here + 1);
                        let df = pos[jf] - (here + 1);
                        let (nt, nf) = (ht || dt > 255, hf || df > 255);
                        if (nt, nf) != (ht, hf) {
                            tramp.insert(b, (nt, nf));
                            grew = true;
                        }
                        let jt8 = if ht { 0 } else { dt.min(255) as u8 };
                        let jf8 = if hf { u8::from(ht) } else { df.min(255) as u8 };
                        out.push(Insn::jump(code, k, jt8, jf8));
                        if ht {
                            let at = out.len();
                            out.push(Insn::stmt(JMP | JA, (pos[jt] - (at + 1)) as u32));
                        }
                        if hf {
                            let at = out.len();
                            out.push(Insn::stmt(JMP | JA, (pos[jf] - (at + 1)) as u32));
                        }
                    }
                }
            }
            if !grew {
                return out;
            }
        }
    }
}

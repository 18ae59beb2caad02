//! Packet filters: the tcpdump filter language compiled to classic BPF, in pure Rust.
//!
//! [`Program::compile`] (PF_RING's `pfring_set_bpf_filter`, libpcap's `pcap_compile`) turns a
//! pcap-filter(7) expression into classic BPF for Ethernet (DLT_EN10MB). The program can be
//! attached to an AF_PACKET socket with `SO_ATTACH_FILTER` (see [`Program::instructions`];
//! [`Insn`] is laid out like the kernel's `struct sock_filter`) or run in userspace with
//! [`Program::matches`] (files, shared-memory queues, tools).
//!
//! ```
//! use pfring::filter::Program;
//! let p = Program::compile("tcp port 80 and not src net 10.0.0.0/8").unwrap();
//! assert!(p.instructions().len() < 40);
//! assert!(!p.matches(&[0u8; 60], 60));
//! ```
//!
//! # The language
//!
//! All of pcap-filter(7) that applies to Ethernet: `host`/`net` (CIDR, `mask`, short forms
//! such as `net 10`)/`port`/`portrange` with `src`, `dst`, `src or dst`, `src and dst`; the
//! protocols `ether ip ip6 arp rarp tcp udp icmp icmp6 sctp igmp vrrp ah esp pim`; `ip proto`,
//! `ip6 proto`, `proto`, `ether proto` (numbers and names); `ether host/src/dst`;
//! `broadcast`, `multicast`, `ip broadcast`, `ip multicast`, `ip6 multicast`; `less`,
//! `greater`, `len`; `vlan [id]` and `mpls [label]` (stackable, shifting later offsets);
//! `proto[expr:size]` accessors with arithmetic (`+ - * / % & | ^ << >>`, unary `-`) and
//! comparisons; named constants (`tcpflags`, `tcp-syn`, `icmptype`, `icmp-echo`, ...);
//! `and or not` / `&& || !` with parentheses, and qualifier inheritance (`host a or b`,
//! `tcp port 80 and not 22`); the Ethernet-family protocols `decnet lat sca mopdl moprc
//! atalk aarp stp netbeui iso ipx llc esis isis clnp pppoed` and `pppoes [session]` (later
//! offsets point into the PPP payload). Host names resolve with the system resolver, services with
//! `/etc/services`, protocols with `/etc/protocols` (with built-in fallbacks).
//!
//! The code follows libpcap's shapes so that both accept exactly the same packets: port tests
//! only look at the first fragment of an IPv4 datagram, `tcp`/`ip6 proto` look one IPv6
//! fragment header deep, transport accessors such as `tcp[13]` are IPv4-only, and a load past
//! the captured bytes rejects the packet. Not supported (an [`FilterError::Unsupported`]
//! error): other link types' primitives (`wlan`, `fddi`, `atm`, `pflog`, ...), `geneve`,
//! `vxlan`, `llc` subtypes, `decnet host`, `isis` subtypes,
//! `gateway`, `/etc/ethers` and `/etc/networks` names. `protochain` is supported but
//! unrolled: libpcap follows the header chain with a backward jump, which the kernel's
//! checker refuses; this compiler follows up to 6 headers (longer chains do not match). `inbound`, `outbound`
//! and `ifindex N` read socket metadata, so they exist for [`Target::Kernel`] only (as in
//! libpcap, which refuses them on savefiles).
//!
//! # VLAN tags: [`Target`]
//!
//! On a pcap file the outer 802.1Q tag is in the frame bytes. An AF_PACKET socket never
//! sees it there: the kernel strips the outer tag before packet sockets run (it lives in the
//! socket buffer's metadata, reported as `tp_vlan_tci` in the ring), so a filter attached
//! with `SO_ATTACH_FILTER` must read it with the ancillary loads `SKF_AD_VLAN_TAG_PRESENT`
//! and `SKF_AD_VLAN_TAG`, and must not shift later offsets for it.
//!
//! libpcap on Linux emits code that tests both at run time (the metadata, then the bytes)
//! and keeps the resulting header offsets in scratch memory and X, which makes every later
//! load indirect. This crate instead compiles for a known [`Target`]:
//!
//! * [`Target::Bytes`] (the default; pcap files, userspace queues, [`Program::matches`]):
//!   every tag is in-band; `vlan` tests the TPID (0x8100, 0x88a8, 0x9100) at the current
//!   EtherType offset and shifts the offsets after it by 4, like libpcap on a file.
//! * [`Target::Kernel`] (what the AF_PACKET backend attaches): the first `vlan` reads the
//!   metadata and shifts nothing; a second `vlan` (the inner tag, still in the bytes) is
//!   tested in-band at offset 12. Run such a program in userspace with
//!   [`Program::matches_with_meta`] and a [`PacketMeta`] carrying the stripped tag.
//!
//! Both programs stay as small and direct as a program without VLAN support.
//!
//! # Limits
//!
//! Expressions longer than [`MAX_EXPR_LEN`] bytes, nesting deeper than [`MAX_DEPTH`], more
//! than 256 arithmetic operators in one comparison, and programs longer than 4096
//! instructions (the kernel's `BPF_MAXINSNS`) are errors; the optimizer's jump threading
//! runs on a fixed work budget. So no input takes unbounded time or memory: the longest
//! expressions compile (or fail) in well under 100 ms (`cargo run --release --example
//! bpf_stress`).

pub mod bpf;
pub mod ebpf;
pub mod rules;

use std::fmt;

pub use bpf::insn::{Insn, format_insn, validate};
pub use bpf::vm::PacketMeta;

/// Longest accepted expression, in bytes.
pub const MAX_EXPR_LEN: usize = 8192;
/// Deepest accepted nesting of parentheses, `not`s, unary minus and brackets.
pub const MAX_DEPTH: usize = bpf::parser::MAX_DEPTH;
/// Most blocks the unoptimized program may have before optimization.
const MAX_BLOCKS: usize = 20_000;
/// The value a compiled program returns for an accepted packet: libpcap's default snapshot
/// length (the kernel keeps that many bytes of the packet).
pub const ACCEPT: u32 = 262_144;

/// Why a filter could not be compiled or loaded. Positions are byte offsets in the
/// expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The expression does not follow the grammar.
    #[error("{msg} at {pos}")]
    Syntax {
        /// Byte offset of the offending token.
        pos: usize,
        /// What was expected or found.
        msg: String,
    },
    /// Well-formed but meaningless (`tcp host x`, port 70000, division by zero, ...).
    #[error("{msg} at {pos}")]
    Invalid {
        /// Byte offset of the offending value.
        pos: usize,
        /// Why it is invalid.
        msg: String,
    },
    /// A host name the resolver does not know.
    #[error("unknown host `{name}` at {pos}")]
    UnknownHost {
        /// The name.
        name: String,
        /// Its byte offset.
        pos: usize,
    },
    /// A service name that is not in `/etc/services`.
    #[error("unknown port `{name}` at {pos}")]
    UnknownPort {
        /// The name.
        name: String,
        /// Its byte offset.
        pos: usize,
    },
    /// A protocol name that is not in `/etc/protocols` (or not an EtherType name).
    #[error("unknown protocol `{name}` at {pos}")]
    UnknownProtocol {
        /// The name.
        name: String,
        /// Its byte offset.
        pos: usize,
    },
    /// A construct of pcap-filter(7) this compiler does not implement.
    #[error("{what} is not supported at {pos}")]
    Unsupported {
        /// Byte offset of the construct.
        pos: usize,
        /// The construct.
        what: String,
    },
    /// Nesting beyond [`MAX_DEPTH`].
    #[error("expression nested deeper than {limit} levels at {pos}")]
    TooDeep {
        /// Where the limit was crossed.
        pos: usize,
        /// The limit.
        limit: usize,
    },
    /// The expression or the generated program is too large.
    #[error("filter too large: {what}")]
    TooLarge {
        /// Which limit was crossed.
        what: String,
    },
    /// A program given to [`Program::from_instructions`] that the kernel would refuse.
    #[error("invalid BPF program: {reason} at instruction {pc}")]
    InvalidProgram {
        /// The offending instruction.
        pc: usize,
        /// Why.
        reason: String,
    },
}

impl FilterError {
    /// The byte offset in the expression the error points at, if any.
    pub fn position(&self) -> Option<usize> {
        match self {
            FilterError::Syntax { pos, .. }
            | FilterError::Invalid { pos, .. }
            | FilterError::UnknownHost { pos, .. }
            | FilterError::UnknownPort { pos, .. }
            | FilterError::UnknownProtocol { pos, .. }
            | FilterError::Unsupported { pos, .. }
            | FilterError::TooDeep { pos, .. } => Some(*pos),
            FilterError::TooLarge { .. } | FilterError::InvalidProgram { .. } => None,
        }
    }
}

/// Where a program will run; decides how `vlan` is compiled (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// Frames with all their VLAN tags in the bytes: pcap files, userspace.
    #[default]
    Bytes,
    /// An AF_PACKET socket filter: the outer tag is in the socket buffer's metadata.
    Kernel,
}

/// Compiler settings for [`Program::compile_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileOptions {
    /// Where the program will run.
    pub target: Target,
    /// The IPv4 netmask `ip broadcast` uses (libpcap's `netmask` argument); 0 when unknown,
    /// which makes `ip broadcast` match 0.0.0.0 and 255.255.255.255.
    pub netmask: u32,
    /// Resolve host names with the system resolver (otherwise they are errors).
    pub resolve_hosts: bool,
    /// Run the optimizer (libpcap's `optimize` argument).
    pub optimize: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            target: Target::Bytes,
            netmask: 0,
            resolve_hosts: true,
            optimize: true,
        }
    }
}

/// A validated classic BPF program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    insns: Vec<Insn>,
    decoded: bpf::vm::Decoded,
}

/// Compiles `expr` for [`Target::Bytes`]; see [`Program::compile`].
#[doc(alias = "pfring_set_bpf_filter")]
#[doc(alias = "pcap_compile")]
pub fn compile(expr: &str) -> Result<Program, FilterError> {
    Program::compile(expr)
}

impl Program {
    /// Compiles a pcap-filter expression for frames that carry their VLAN tags in the bytes
    /// ([`Target::Bytes`]). An empty expression accepts every packet.
    #[doc(alias = "pfring_set_bpf_filter")]
    #[doc(alias = "pcap_compile")]
    pub fn compile(expr: &str) -> Result<Program, FilterError> {
        Program::compile_with(expr, &CompileOptions::default())
    }

    /// Compiles for a given [`Target`]: [`Target::Kernel`] for `SO_ATTACH_FILTER`.
    pub fn compile_for(expr: &str, target: Target) -> Result<Program, FilterError> {
        Program::compile_with(
            expr,
            &CompileOptions {
                target,
                ..CompileOptions::default()
            },
        )
    }

    /// Compiles with explicit [`CompileOptions`].
    pub fn compile_with(expr: &str, opts: &CompileOptions) -> Result<Program, FilterError> {
        if expr.len() > MAX_EXPR_LEN {
            return Err(FilterError::TooLarge {
                what: format!(
                    "expression of {} bytes (the limit is {MAX_EXPR_LEN})",
                    expr.len()
                ),
            });
        }
        let ctx = bpf::codegen::Ctx::new(opts.target);
        let mut p = bpf::parser::Parser::new(expr, ctx, opts.resolve_hosts, opts.netmask)?;
        let b = p.parse()?;
        let mut g = bpf::optimize::Graph::build(&b, ACCEPT);
        drop(b);
        if g.len() > MAX_BLOCKS {
            return Err(FilterError::TooLarge {
                what: format!("more than {MAX_BLOCKS} tests before optimization"),
            });
        }
        if opts.optimize {
            g.optimize();
        }
        let insns = g.emit();
        if insns.len() > bpf::insn::op::MAXINSNS {
            return Err(FilterError::TooLarge {
                what: format!(
                    "{} instructions (the kernel's limit is {})",
                    insns.len(),
                    bpf::insn::op::MAXINSNS
                ),
            });
        }
        Program::from_instructions(insns)
    }

    /// Wraps instructions (e.g. from `tcpdump -ddd`) after checking them like the kernel's
    /// `bpf_check_classic` (see [`validate`]).
    pub fn from_instructions(insns: Vec<Insn>) -> Result<Program, FilterError> {
        validate(&insns)?;
        let decoded = bpf::vm::Decoded::new(&insns);
        Ok(Program { insns, decoded })
    }

    /// The instructions, ready for `SO_ATTACH_FILTER` (`struct sock_fprog`).
    pub fn instructions(&self) -> &[Insn] {
        &self.insns
    }

    /// Runs the program on `frame` (the captured bytes; `wire_len` is the length on the
    /// wire, what `len` tests) with no packet metadata. True if it accepts.
    pub fn matches(&self, frame: &[u8], wire_len: u32) -> bool {
        self.run(frame, wire_len, &PacketMeta::default()) != 0
    }

    /// Like [`matches`](Self::matches), with socket-buffer metadata for ancillary loads
    /// (programs compiled for [`Target::Kernel`]).
    pub fn matches_with_meta(&self, frame: &[u8], wire_len: u32, meta: &PacketMeta) -> bool {
        self.run(frame, wire_len, meta) != 0
    }

    /// Runs the program and returns its result: 0 rejects, otherwise the number of bytes
    /// to keep (as the kernel does).
    pub fn run(&self, frame: &[u8], wire_len: u32, meta: &PacketMeta) -> u32 {
        self.decoded.run(frame, wire_len, meta)
    }
}

impl fmt::Display for Program {
    /// One line per instruction, as `tcpdump -d` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (pc, i) in self.insns.iter().enumerate() {
            writeln!(f, "{}", format_insn(i, pc))?;
        }
        Ok(())
    }
}

//! The pcap-filter compiler, the optimizer, the classic BPF interpreter and validator.
//!
//! | file | what |
//! |---|---|
//! | `lexer.rs` | tokens with byte offsets |
//! | `parser.rs` | recursive descent over pcap-filter(7); lowers primitives as it goes |
//! | `codegen.rs` | libpcap's code shapes for each primitive, over Ethernet |
//! | `optimize.rs` | block DAG, jump threading, merging, redundant loads, layout |
//! | [`insn`] | [`Insn`](insn::Insn), opcodes, `tcpdump -d` printing, the validator |
//! | [`vm`] | the interpreter and [`PacketMeta`](vm::PacketMeta) |

pub(crate) mod codegen;
pub mod insn;
pub(crate) mod lexer;
pub(crate) mod names;
pub(crate) mod optimize;
pub(crate) mod parser;
pub mod vm;

//! Shared pieces of the PF_RING example tools: number formatting, stats printing, options.
#![deny(unsafe_code)]

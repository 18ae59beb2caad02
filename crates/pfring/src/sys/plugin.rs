//! Rule plugins written in C: calls through a [`CPluginOps`] table.
//!
//! # Safety
//!
//! [`CPlugin::new`] is `unsafe`: its caller promises that the table's function pointers and
//! name are valid for the plugin's whole life and that the hooks are safe to call from the
//! thread that owns the ring with the arguments documented on [`CPluginOps`]. Every call
//! here passes pointers to live buffers with their exact lengths.

use std::ffi::CStr;
use std::time::Duration;

use crate::filter::rules::plugin::{CPluginOps, PluginPacket, RulePlugin};

/// A C plugin (see [`CPluginOps`]) as a [`RulePlugin`].
#[derive(Debug)]
pub struct CPlugin {
    ops: CPluginOps,
    name: String,
}

// SAFETY: the caller of `CPlugin::new` promised the hooks may be called from the thread that
// owns the ring, which may be another thread than the one that created the table.
unsafe impl Send for CPlugin {}

impl CPlugin {
    /// Wraps a C plugin table.
    ///
    /// # Safety
    /// `ops.name` is null or a NUL-terminated string, and every non-null hook is a function
    /// with the documented signature, callable with `ops.ctx` until `free` is called (or for
    /// ever without `free`), from any one thread at a time.
    pub unsafe fn new(ops: CPluginOps) -> Option<CPlugin> {
        ops.filter?;
        let name = if ops.name.is_null() {
            String::new()
        } else {
            // SAFETY: non-null and NUL-terminated by the contract above.
            unsafe { CStr::from_ptr(ops.name) }
                .to_string_lossy()
                .into_owned()
        };
        Some(CPlugin { ops, name })
    }
}

fn len32(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap_or(u32::MAX)
}

impl RulePlugin for CPlugin {
    fn id(&self) -> u16 {
        self.ops.plugin_id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn add_rule(&mut self, rule_id: u16, data: &[u8]) -> Result<(), String> {
        let Some(f) = self.ops.add_rule else {
            return Ok(());
        };
        // SAFETY: valid hook and ctx (CPlugin::new's contract); `data` is live for the call
        // and its length is passed.
        let r = unsafe { f(self.ops.ctx, rule_id, data.as_ptr(), len32(data)) };
        if r == 0 {
            Ok(())
        } else {
            Err(format!("plugin {} refused the rule ({r})", self.name))
        }
    }

    fn del_rule(&mut self, rule_id: u16) {
        if let Some(f) = self.ops.del_rule {
            // SAFETY: valid hook and ctx (CPlugin::new's contract).
            unsafe { f(self.ops.ctx, rule_id) }
        }
    }

    fn filter(&mut self, rule_id: u16, pkt: &PluginPacket<'_>) -> bool {
        let Some(f) = self.ops.filter else {
            return false;
        };
        let payload = pkt.payload();
        // SAFETY: valid hook and ctx; both buffers are live for the call with their lengths.
        unsafe {
            f(
                self.ops.ctx,
                rule_id,
                pkt.frame.as_ptr(),
                len32(pkt.frame),
                payload.as_ptr(),
                len32(payload),
                pkt.ts_ns,
            ) == 1
        }
    }

    fn handle(&mut self, rule_id: u16, pkt: &PluginPacket<'_>) {
        if let Some(f) = self.ops.handle {
            // SAFETY: valid hook and ctx; the frame is live for the call with its length.
            unsafe {
                f(
                    self.ops.ctx,
                    rule_id,
                    pkt.frame.as_ptr(),
                    len32(pkt.frame),
                    pkt.ts_ns,
                )
            }
        }
    }

    fn get_stats(&self, rule_id: u16) -> Vec<u8> {
        let Some(f) = self.ops.get_stats else {
            return Vec::new();
        };
        let mut buf = vec![0u8; 4096];
        // SAFETY: valid hook and ctx; `buf` is writable for its whole length.
        let n = unsafe { f(self.ops.ctx, rule_id, buf.as_mut_ptr(), len32(&buf)) };
        buf.truncate(usize::try_from(n).unwrap_or(0).min(4096));
        buf
    }

    fn purge_idle(&mut self, idle: Duration) -> usize {
        let Some(f) = self.ops.purge_idle else {
            return 0;
        };
        let secs = u32::try_from(idle.as_secs()).unwrap_or(u32::MAX);
        // SAFETY: valid hook and ctx.
        unsafe { f(self.ops.ctx, secs) as usize }
    }
}

impl Drop for CPlugin {
    fn drop(&mut self) {
        if let Some(f) = self.ops.free {
            // SAFETY: valid hook and ctx; called once, after which the table is not used.
            unsafe { f(self.ops.ctx) }
        }
    }
}

//! Rule plugins: code a wildcard rule calls to filter and handle packets (PF_RING 5.x's
//! kernel plugins: `plugin_filter_skb`, `plugin_handle_skb`, `plugin_get_stats`,
//! `plugin_add_rule`, `plugin_del_rule`, `plugin_purge_idle`, `plugin_free`), here in the
//! library.
//!
//! A rule names a plugin with [`FilteringRule::plugin_id`](super::FilteringRule::plugin_id)
//! and passes it [`plugin_data`](super::FilteringRule::plugin_data). When the rule's header
//! fields match, the plugin's [`RulePlugin::filter`] decides whether the rule matches; on a
//! match its [`RulePlugin::handle`] runs (for every matching rule, whatever its action,
//! like the kernel module's `plugin_action`). Statistics are read with
//! [`RulePlugin::get_stats`].
//!
//! Plugins are Rust values implementing [`RulePlugin`], or C code through the
//! [`CPluginOps`] table of function pointers (wrapped by `CPlugin::new`). A
//! [`PluginRegistry`] holds them by id and lists them ([`PluginRegistry::info`], PF_RING's
//! `plugins_info`). Two plugins ship: [`super::sip::SipPlugin`] and
//! [`super::rtp::RtpPlugin`].

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::time::Duration;

use crate::parse::ParsedPacket;

pub use crate::sys::plugin::CPlugin;

/// A packet as a plugin sees it.
#[derive(Clone, Copy, Debug)]
pub struct PluginPacket<'a> {
    /// The frame bytes (as captured).
    pub frame: &'a [u8],
    /// The parsed headers (level 4).
    pub parsed: &'a ParsedPacket,
    /// The packet's timestamp, in nanoseconds since the Unix epoch (0 when unknown).
    pub ts_ns: u64,
}

impl PluginPacket<'_> {
    /// The bytes after the transport header (empty when there are none).
    pub fn payload(&self) -> &[u8] {
        let at = usize::try_from(self.parsed.offset.payload_offset).unwrap_or(0);
        if at == 0 {
            return &[];
        }
        self.frame.get(at..).unwrap_or(&[])
    }
}

/// A rule plugin (the hooks of a PF_RING 5.x kernel plugin).
pub trait RulePlugin: Send + std::fmt::Debug {
    /// The id rules name it by (not 0).
    fn id(&self) -> u16;
    /// Short name.
    fn name(&self) -> &str;
    /// One line on what it does.
    fn description(&self) -> &str {
        ""
    }
    /// A rule naming this plugin was added with `data` (`plugin_add_rule`). An error
    /// refuses the rule.
    ///
    /// # Errors
    /// The data is not valid for this plugin (the message says why).
    fn add_rule(&mut self, rule_id: u16, data: &[u8]) -> Result<(), String> {
        let _ = (rule_id, data);
        Ok(())
    }
    /// The rule was removed (`plugin_del_rule`).
    fn del_rule(&mut self, rule_id: u16) {
        let _ = rule_id;
    }
    /// Whether rule `rule_id` matches `pkt` (its header fields already did;
    /// `plugin_filter_skb`).
    fn filter(&mut self, rule_id: u16, pkt: &PluginPacket<'_>) -> bool;
    /// Rule `rule_id` matched `pkt` (`plugin_handle_skb`).
    fn handle(&mut self, rule_id: u16, pkt: &PluginPacket<'_>) {
        let _ = (rule_id, pkt);
    }
    /// Statistics for rule `rule_id`, in the plugin's format (`plugin_get_stats`).
    fn get_stats(&self, rule_id: u16) -> Vec<u8> {
        let _ = rule_id;
        Vec::new()
    }
    /// Forgets state not used for `idle`; returns how many entries went (`plugin_purge_idle`).
    fn purge_idle(&mut self, idle: Duration) -> usize {
        let _ = idle;
        0
    }
}

/// Id, name and description of a registered plugin (`plugins_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    /// The id.
    pub id: u16,
    /// The name.
    pub name: String,
    /// The description.
    pub description: String,
}

/// The plugins of a rule set, by id.
#[derive(Debug, Default)]
pub struct PluginRegistry {
    plugins: BTreeMap<u16, Box<dyn RulePlugin>>,
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with the plugins that ship with the library ([`super::sip::SipPlugin`],
    /// [`super::rtp::RtpPlugin`]).
    pub fn with_builtin() -> Self {
        let mut r = Self::new();
        // Fresh registry, distinct ids: cannot fail.
        let _ = r.register(Box::new(super::sip::SipPlugin::default()));
        let _ = r.register(Box::new(super::rtp::RtpPlugin::default()));
        r
    }

    /// Adds a plugin.
    ///
    /// # Errors
    /// [`super::RuleError::Invalid`] for id 0 or an id in use.
    pub fn register(&mut self, p: Box<dyn RulePlugin>) -> Result<(), super::RuleError> {
        let id = p.id();
        if id == 0 || self.plugins.contains_key(&id) {
            return Err(super::RuleError::Invalid(format!(
                "plugin id {id} is 0 or already registered"
            )));
        }
        self.plugins.insert(id, p);
        Ok(())
    }

    /// Removes a plugin (`plugin_free` is its `Drop`).
    pub fn unregister(&mut self, id: u16) -> Option<Box<dyn RulePlugin>> {
        self.plugins.remove(&id)
    }

    /// The registered plugins (`plugins_info`), by id.
    #[doc(alias = "plugins_info")]
    pub fn info(&self) -> Vec<PluginInfo> {
        self.plugins
            .values()
            .map(|p| PluginInfo {
                id: p.id(),
                name: p.name().to_owned(),
                description: p.description().to_owned(),
            })
            .collect()
    }

    /// Plugin `id`.
    pub fn get(&self, id: u16) -> Option<&dyn RulePlugin> {
        self.plugins.get(&id).map(|b| &**b)
    }

    /// Plugin `id`, mutably.
    pub fn get_mut(&mut self, id: u16) -> Option<&mut (dyn RulePlugin + 'static)> {
        self.plugins.get_mut(&id).map(|b| &mut **b)
    }

    /// Calls every plugin's [`RulePlugin::purge_idle`]; returns the total.
    pub fn purge_idle(&mut self, idle: Duration) -> usize {
        self.plugins.values_mut().map(|p| p.purge_idle(idle)).sum()
    }
}

/// The hooks of a plugin written in C: a table of function pointers and an opaque context
/// passed to each. Every hook but `filter` may be null (absent).
///
/// ```c
/// struct pfring_plugin_ops {
///   uint16_t plugin_id; const char *name;   /* NUL-terminated, lives as long as the table */
///   void *ctx;
///   int  (*add_rule)(void *ctx, uint16_t rule_id, const uint8_t *data, uint32_t len);  /* 0 = ok */
///   void (*del_rule)(void *ctx, uint16_t rule_id);
///   int  (*filter)(void *ctx, uint16_t rule_id, const uint8_t *frame, uint32_t len,
///                  const uint8_t *payload, uint32_t payload_len, uint64_t ts_ns);  /* 1 = match */
///   void (*handle)(void *ctx, uint16_t rule_id, const uint8_t *frame, uint32_t len, uint64_t ts_ns);
///   int  (*get_stats)(void *ctx, uint16_t rule_id, uint8_t *buf, uint32_t buf_len); /* bytes written */
///   uint32_t (*purge_idle)(void *ctx, uint32_t idle_sec);
///   void (*free)(void *ctx);
/// };
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CPluginOps {
    /// The plugin id.
    pub plugin_id: u16,
    /// NUL-terminated name.
    pub name: *const std::ffi::c_char,
    /// Passed to every hook.
    pub ctx: *mut c_void,
    /// `plugin_add_rule`: 0 accepts the rule.
    pub add_rule: Option<unsafe extern "C" fn(*mut c_void, u16, *const u8, u32) -> i32>,
    /// `plugin_del_rule`.
    pub del_rule: Option<unsafe extern "C" fn(*mut c_void, u16)>,
    /// `plugin_filter_skb`: 1 = the rule matches.
    pub filter:
        Option<unsafe extern "C" fn(*mut c_void, u16, *const u8, u32, *const u8, u32, u64) -> i32>,
    /// `plugin_handle_skb`.
    pub handle: Option<unsafe extern "C" fn(*mut c_void, u16, *const u8, u32, u64)>,
    /// `plugin_get_stats`: bytes written to the buffer (at most its length).
    pub get_stats: Option<unsafe extern "C" fn(*mut c_void, u16, *mut u8, u32) -> i32>,
    /// `plugin_purge_idle`: entries purged.
    pub purge_idle: Option<unsafe extern "C" fn(*mut c_void, u32) -> u32>,
    /// `plugin_free`: called once when the plugin is dropped.
    pub free: Option<unsafe extern "C" fn(*mut c_void)>,
}

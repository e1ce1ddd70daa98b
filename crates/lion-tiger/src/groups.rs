//! Parameter groups: weight-decay masks, learning-rate multipliers and Tiger kinds chosen by
//! parameter name or [`nn::ParamRole`].

use crate::config::ParamKind;
use nn::ParamRole;

/// Which parameters a [`GroupRule`] applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    /// Every parameter.
    All,
    /// The exact dotted name.
    Name(String),
    /// Names starting with this (`encoder.`).
    Prefix(String),
    /// Names ending with this (`.bias`).
    Suffix(String),
    /// Names containing this.
    Contains(String),
    /// Parameters with this role.
    Role(ParamRole),
}

impl Match {
    /// Whether a parameter matches.
    pub fn matches(&self, name: &str, role: ParamRole) -> bool {
        match self {
            Match::All => true,
            Match::Name(n) => name == n,
            Match::Prefix(p) => name.starts_with(p.as_str()),
            Match::Suffix(s) => name.ends_with(s.as_str()),
            Match::Contains(s) => name.contains(s.as_str()),
            Match::Role(r) => *r == role,
        }
    }
}

/// Overrides for the parameters a rule matches. Rules apply in order; later rules win.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRule {
    pub matches: Match,
    /// Whether weight decay applies (`Some(false)` masks it out).
    pub decay: Option<bool>,
    /// Multiplier on the learning rate (Lion η, AdamW η, Tiger α).
    pub lr_mult: Option<f64>,
    /// Tiger's parameter kind (ignored by Lion and AdamW).
    pub kind: Option<ParamKind>,
}

impl GroupRule {
    /// A rule that changes nothing yet.
    pub fn new(matches: Match) -> Self {
        GroupRule {
            matches,
            decay: None,
            lr_mult: None,
            kind: None,
        }
    }

    /// No weight decay for the matched parameters.
    pub fn no_decay(matches: Match) -> Self {
        GroupRule {
            decay: Some(false),
            ..GroupRule::new(matches)
        }
    }

    /// Sets the Tiger kind.
    pub fn with_kind(mut self, kind: ParamKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Sets the learning-rate multiplier.
    pub fn with_lr_mult(mut self, m: f64) -> Self {
        self.lr_mult = Some(m);
        self
    }
}

/// What the rules resolve to for one parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Resolved {
    pub kind: ParamKind,
    pub lr_mult: f64,
    pub decay: f64,
    pub centre: f64,
}

/// Resolves a parameter. Defaults: Lion/AdamW decay everything but biases and gains (the usual
/// mask); Tiger takes its kind from the role ([`ParamKind::from_role`]) and the kind's factors.
pub(crate) fn resolve(
    rules: &[GroupRule],
    name: &str,
    role: ParamRole,
    shape: &[usize],
    tiger: bool,
) -> Resolved {
    let mut kind = ParamKind::from_role(role, shape);
    let mut decay: Option<bool> = None;
    let mut lr_mult = 1.0;
    for r in rules.iter().filter(|r| r.matches.matches(name, role)) {
        if let Some(k) = r.kind {
            kind = k;
        }
        if let Some(d) = r.decay {
            decay = Some(d);
        }
        if let Some(m) = r.lr_mult {
            lr_mult = m;
        }
    }
    if tiger {
        let (kl, kd, centre) = kind.factors();
        Resolved {
            kind,
            lr_mult: kl * lr_mult,
            decay: match decay {
                Some(false) => 0.0,
                Some(true) => {
                    if kd > 0.0 {
                        kd
                    } else {
                        1.0
                    }
                }
                None => kd,
            },
            centre,
        }
    } else {
        let default = !matches!(role, ParamRole::Bias | ParamRole::Gain);
        Resolved {
            kind,
            lr_mult,
            decay: if decay.unwrap_or(default) { 1.0 } else { 0.0 },
            centre: if role == ParamRole::Gain { 1.0 } else { 0.0 },
        }
    }
}

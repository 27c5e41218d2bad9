//! Policies: the choices a free-list allocator makes that the course fixes
//! once and the policy lab lets you switch.
//!
//! - **fit**: which free block a search takes when several are big enough:
//!   the first it meets, the smallest (best), the first after where the last
//!   search stopped (next), or the largest (worst).
//! - **order**: where a freed block goes on its list: in front (LIFO), at
//!   the end (FIFO), or at its place by address.
//! - **merging**: whether a freed block merges with free neighbours (the
//!   merging stages only).
//!
//! A stage that has the structure says which of these it can run with
//! [`Choices`] (through [`Malloc::choices`](crate::Malloc::choices)) and
//! takes one [`Policy`] value when it is made (`with_policy`): the policy is
//! read from the heap, never from the environment, and the default path
//! stays what the course teaches.

use core::fmt;

/// Which free block a search takes among those big enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fit {
    /// The first block on the list that is big enough.
    First,
    /// The smallest block that is big enough (an exact fit ends the search).
    Best,
    /// The first block big enough after the one the last search stopped
    /// at, going round to the front of the list.
    Next,
    /// The largest block (what is left over stays big).
    Worst,
}

/// Where a freed block goes on its free list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    /// In front: the block freed last is used first.
    Lifo,
    /// At the end: the block freed first is used first.
    Fifo,
    /// At its place by address: lower blocks are found first.
    Address,
}

impl Fit {
    /// Every fit, in the order the lab lists them.
    pub const ALL: [Fit; 4] = [Fit::First, Fit::Best, Fit::Next, Fit::Worst];

    /// Its name on the command line, e.g. `first-fit`.
    pub const fn name(self) -> &'static str {
        match self {
            Fit::First => "first-fit",
            Fit::Best => "best-fit",
            Fit::Next => "next-fit",
            Fit::Worst => "worst-fit",
        }
    }
}

impl Order {
    /// Every order, in the order the lab lists them.
    pub const ALL: [Order; 3] = [Order::Lifo, Order::Fifo, Order::Address];

    /// Its name on the command line, e.g. `fifo`.
    pub const fn name(self) -> &'static str {
        match self {
            Order::Lifo => "lifo",
            Order::Fifo => "fifo",
            Order::Address => "address-ordered",
        }
    }
}

/// The name of merging on or off.
pub const fn merge_name(merge: bool) -> &'static str {
    if merge { "merge" } else { "no-merge" }
}

/// One choice of each: how a heap searches, files and merges free blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Which block a search takes.
    pub fit: Fit,
    /// Where a freed block goes on its list.
    pub order: Order,
    /// Whether a freed block merges with its free neighbours.
    pub merge: bool,
}

impl Policy {
    /// A policy of these three choices.
    pub const fn new(fit: Fit, order: Order, merge: bool) -> Self {
        Policy { fit, order, merge }
    }

    /// This policy with the choices that `text` names changed: `text` is
    /// names separated by commas, at most one per kind, e.g.
    /// `first-fit,fifo` or `no-merge`. The error is the word that is not a
    /// name, or the second name of a kind named twice.
    pub fn with_names(self, text: &str) -> Result<Policy, BadName<'_>> {
        let mut policy = self;
        let mut seen = [false; 3];
        for word in text.split(',').map(str::trim) {
            let kind = if let Some(fit) = Fit::ALL.into_iter().find(|f| f.name() == word) {
                policy.fit = fit;
                0
            } else if let Some(order) = Order::ALL.into_iter().find(|o| o.name() == word) {
                policy.order = order;
                1
            } else if let Some(merge) = [true, false].into_iter().find(|&m| merge_name(m) == word) {
                policy.merge = merge;
                2
            } else {
                return Err(BadName::Unknown(word));
            };
            if seen[kind] {
                return Err(BadName::Twice(word));
            }
            seen[kind] = true;
        }
        Ok(policy)
    }
}

/// Why [`Policy::with_names`] refused a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadName<'a> {
    /// A word that names no fit, order or merging.
    Unknown(&'a str),
    /// A name of a kind already named (e.g. two fits).
    Twice(&'a str),
}

impl fmt::Display for BadName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadName::Unknown(word) => {
                write!(f, "`{word}` is not a policy name (the names:")?;
                for fit in Fit::ALL {
                    write!(f, " {},", fit.name())?;
                }
                for order in Order::ALL {
                    write!(f, " {},", order.name())?;
                }
                write!(f, " merge, no-merge)")
            }
            BadName::Twice(word) => write!(
                f,
                "`{word}` chooses a second time what a name before it chose"
            ),
        }
    }
}

/// The policies a stage can run: every combination of these, its default
/// first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choices {
    /// The stage's own policy, what the course teaches.
    pub default: Policy,
    /// The fits it can search with.
    pub fits: &'static [Fit],
    /// The orders its free lists can keep.
    pub orders: &'static [Order],
    /// Merging on, off, or both.
    pub merging: &'static [bool],
}

impl Choices {
    /// Whether the stage can run `policy`.
    pub fn supports(&self, policy: Policy) -> bool {
        self.fits.contains(&policy.fit)
            && self.orders.contains(&policy.order)
            && self.merging.contains(&policy.merge)
    }

    /// Every policy the stage can run: the default first, then the others
    /// by fit, order and merging.
    pub fn policies(&self) -> impl Iterator<Item = Policy> + '_ {
        let others = self.fits.iter().flat_map(move |&fit| {
            self.orders.iter().flat_map(move |&order| {
                self.merging
                    .iter()
                    .map(move |&merge| Policy::new(fit, order, merge))
            })
        });
        core::iter::once(self.default).chain(others.filter(move |&p| p != self.default))
    }

    /// The name of `policy` for this stage: its fit and order, and its
    /// merging if the stage can switch it, e.g. `first-fit,fifo`.
    pub fn name(&self, policy: Policy) -> PolicyName {
        PolicyName {
            policy,
            with_merge: self.merging.len() > 1,
        }
    }
}

/// A policy's name, as [`Choices::name`] makes it.
#[derive(Clone, Copy, Debug)]
pub struct PolicyName {
    policy: Policy,
    with_merge: bool,
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.policy.fit.name(), self.policy.order.name())?;
        if self.with_merge {
            write!(f, ",{}", merge_name(self.policy.merge))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEST: Policy = Policy::new(Fit::Best, Order::Lifo, false);
    const LISTS: Choices = Choices {
        default: BEST,
        fits: &Fit::ALL,
        orders: &Order::ALL,
        merging: &[false],
    };

    #[test]
    fn names_change_only_what_they_name() {
        let p = BEST.with_names("first-fit,fifo").unwrap();
        assert_eq!(p, Policy::new(Fit::First, Order::Fifo, false));
        assert!(BEST.with_names(" merge ").unwrap().merge);
        assert_eq!(BEST.with_names("address-ordered").unwrap().fit, Fit::Best);
        assert_eq!(BEST.with_names("first"), Err(BadName::Unknown("first")));
        assert_eq!(
            BEST.with_names("first-fit,best-fit"),
            Err(BadName::Twice("best-fit"))
        );
    }

    #[test]
    fn every_combination_once_the_default_first() {
        let all: [Policy; 12] = {
            let mut it = LISTS.policies();
            core::array::from_fn(|_| it.next().unwrap())
        };
        assert_eq!(all[0], BEST);
        assert_eq!(LISTS.policies().count(), 12);
        for (i, p) in all.iter().enumerate() {
            assert!(LISTS.supports(*p));
            assert!(all[..i].iter().all(|q| q != p));
        }
        assert!(!LISTS.supports(Policy::new(Fit::Best, Order::Lifo, true)));
    }

    #[test]
    fn names_say_merging_only_where_it_is_a_choice() {
        extern crate std;
        use std::string::ToString;
        let merging = Choices {
            merging: &[true, false],
            ..LISTS
        };
        assert_eq!(LISTS.name(BEST).to_string(), "best-fit,lifo");
        assert_eq!(merging.name(BEST).to_string(), "best-fit,lifo,no-merge");
        let unknown = BadName::Unknown("first").to_string();
        assert_eq!(
            unknown,
            "`first` is not a policy name (the names: first-fit, best-fit, next-fit, \
             worst-fit, lifo, fifo, address-ordered, merge, no-merge)"
        );
        let twice = BadName::Twice("best-fit").to_string();
        assert_eq!(
            twice,
            "`best-fit` chooses a second time what a name before it chose"
        );
    }
}

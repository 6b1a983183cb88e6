//! The work one policy build may do: an explicit allowance, passed to every exploration, so
//! that no rule set and no request can make one decision slow.

/// Most product states one exploration visits: past it the proof gives up, and the policy
/// counts as unproven (never sent as exact or safe).
pub const MAX_STATES: usize = 20_000;

/// Most work (automaton steps: a state's live automata, summed over the states visited) all
/// explorations of one policy build may do together: a fraction of a second on a slow
/// machine.
pub const BUILD_BUDGET: usize = 500_000;

/// Work left for the explorations of one policy build. What it does not cover is unproven, and
/// unproven policies are never sent as exact or safe.
///
/// ```
/// use tollgate::exactness::Budget;
/// let mut budget = Budget::new(10);
/// assert!(budget.spend(4));
/// assert!(!budget.spend(7));
/// assert!(budget.is_spent());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    left: usize,
}

impl Budget {
    /// An allowance of `steps` units of work.
    pub fn new(steps: usize) -> Self {
        Budget { left: steps }
    }

    /// The allowance of one policy build: [`BUILD_BUDGET`].
    pub fn per_build() -> Self {
        Budget::new(BUILD_BUDGET)
    }

    /// Takes `steps` units; `false` (and nothing left) if there are not that many.
    pub fn spend(&mut self, steps: usize) -> bool {
        match self.left.checked_sub(steps) {
            Some(left) => {
                self.left = left;
                true
            }
            None => {
                self.left = 0;
                false
            }
        }
    }

    /// Whether the allowance ran out.
    pub fn is_spent(&self) -> bool {
        self.left == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_within_the_allowance_succeeds_and_leaves_the_rest() {
        let mut budget = Budget::new(5);
        assert!(budget.spend(2));
        assert!(budget.spend(3));
        assert!(budget.is_spent());
    }

    #[test]
    fn overspending_fails_and_empties_the_allowance() {
        let mut budget = Budget::new(5);
        assert!(!budget.spend(6));
        assert!(!budget.spend(1));
    }
}

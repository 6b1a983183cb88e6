//! A set of route rules, by their index in the most-specific-first order: which rules a token
//! may call, or must keep. One bit per rule, so sets are cheap to hash and compare as memo keys.

/// A set of rule indices.
///
/// ```
/// use tollgate::exactness::RuleSet;
/// let set = RuleSet::from_fn(3, |i| i != 1);
/// assert!(set.contains(0) && !set.contains(1) && set.contains(2));
/// assert!(!set.contains(7));
/// assert_eq!(RuleSet::only(3, 1).iter().collect::<Vec<_>>(), vec![1]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RuleSet {
    words: Vec<u64>,
}

impl RuleSet {
    /// No rule.
    pub fn empty() -> Self {
        RuleSet::default()
    }

    /// The rules `i < len` for which `member(i)` holds.
    pub fn from_fn(len: usize, mut member: impl FnMut(usize) -> bool) -> Self {
        let mut set = RuleSet::empty();
        for i in (0..len).filter(|i| member(*i)) {
            set.insert(i);
        }
        set
    }

    /// The one rule `index` (`len` is the number of rules, for symmetry with [`Self::from_fn`]).
    pub fn only(len: usize, index: usize) -> Self {
        RuleSet::from_fn(len, |i| i == index)
    }

    /// Adds a rule.
    pub fn insert(&mut self, index: usize) {
        let (word, bit) = (index / 64, index % 64);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << bit;
    }

    /// Whether a rule is in the set.
    pub fn contains(&self, index: usize) -> bool {
        self.words
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    /// The rules in the set, in index order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, word)| {
            (0..64)
                .filter(move |bit| word & (1 << bit) != 0)
                .map(move |bit| w * 64 + bit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_with_the_same_members_are_equal_however_they_were_built() {
        let mut grown = RuleSet::empty();
        grown.insert(70);
        grown.insert(2);
        assert_eq!(grown, RuleSet::from_fn(100, |i| i == 2 || i == 70));
        assert_eq!(grown.iter().collect::<Vec<_>>(), vec![2, 70]);
    }
}

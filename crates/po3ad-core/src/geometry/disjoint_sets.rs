//! Disjoint sets (union–find) over point indices: connected pieces of a neighbour
//! graph. A few lines by hand rather than a graph crate for one structure.

/// Union–find with path halving; the root of a set is its smallest index.
#[derive(Debug, Clone)]
pub struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
        }
    }

    /// The root (smallest index) of `i`'s set.
    pub fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Join the sets of `a` and `b`.
    pub fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_join_sets_and_roots_are_the_smallest_index() {
        let mut d = DisjointSets::new(6);
        d.union(4, 2);
        d.union(5, 4);
        d.union(0, 1);
        assert_eq!(
            (0..6).map(|i| d.find(i)).collect::<Vec<_>>(),
            [0, 0, 2, 3, 2, 2]
        );
    }
}

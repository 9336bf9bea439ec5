//! A map of issued tokens that forgets the oldest beyond a cap, so a sandbox serving benchmarks
//! for hours keeps bounded memory. Google expires tokens too; a forgotten page token answers 400
//! and a forgotten sync token 410, as for any unknown token.

use std::collections::{HashMap, VecDeque};

/// How many page tokens and how many sync tokens a sandbox remembers.
pub(crate) const TOKEN_CAP: usize = 100_000;

/// Token → state, oldest evicted first.
#[derive(Debug)]
pub(crate) struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    cap: usize,
}

impl<V> Bounded<V> {
    pub fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    pub fn insert(&mut self, token: String, value: V) {
        if self.map.insert(token.clone(), value).is_none() {
            self.order.push_back(token);
        }
        while self.order.len() > self.cap {
            if let Some(oldest) = self.order.pop_front() {
                self.map.remove(&oldest);
            }
        }
    }

    pub fn get(&self, token: &str) -> Option<&V> {
        self.map.get(token)
    }

    pub fn contains_key(&self, token: &str) -> bool {
        self.map.contains_key(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_token_goes_first() {
        let mut tokens = Bounded::new(2);
        tokens.insert("a".to_string(), 1);
        tokens.insert("b".to_string(), 2);
        tokens.insert("a".to_string(), 3);
        tokens.insert("c".to_string(), 4);
        assert!(!tokens.contains_key("a"));
        assert_eq!((tokens.get("b"), tokens.get("c")), (Some(&2), Some(&4)));
    }
}

//! The store's behaviour, run against every engine: a test written as `fn name(store: &Store)`
//! and listed in [`for_each_engine!`] runs once on a fresh sled store and once on a fresh
//! PostgreSQL database ([`test_cluster`](super::postgres::test_cluster)), so the engines cannot
//! drift apart.

use super::postgres::{test_cluster, Database, PgStore};
use super::{CredentialKey, CredentialKeys, Store};

/// A fresh store of one engine, with whatever keeps it alive.
pub(crate) struct Fixture {
    pub(crate) store: Store,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    /// A new sled store in a temporary directory.
    pub(crate) fn sled() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open sled store");
        Self {
            store,
            _dir: Some(dir),
        }
    }

    /// A new PostgreSQL store in a database of its own, or `None` (said loudly) when the
    /// machine has no PostgreSQL.
    pub(crate) fn postgres(test: &str) -> Option<Self> {
        let url = test_cluster::database(test)?;
        let store = PgStore::open(
            &Database::parse(&url, 4).expect("test database URL"),
            &CredentialKeys {
                current: Some(CredentialKey::generate().expect("key")),
                previous: None,
            },
        )
        .expect("open PostgreSQL store");
        Some(Self {
            store: Store::from_engine(store),
            _dir: None,
        })
    }
}

/// Runs each named `fn(&Store)` of the calling module on every engine, as tests
/// `on_sled::NAME` and `on_postgres::NAME`.
macro_rules! for_each_engine {
    ($($name:ident),+ $(,)?) => {
        mod on_sled {
            $(
                #[test]
                fn $name() {
                    let fixture = $crate::store::engine_tests::Fixture::sled();
                    super::$name(&fixture.store);
                }
            )+
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(fixture) =
                        $crate::store::engine_tests::Fixture::postgres(stringify!($name))
                    {
                        super::$name(&fixture.store);
                    }
                }
            )+
        }
    };
}
pub(crate) use for_each_engine;

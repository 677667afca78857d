//! The dashboard client's view (SPEC §15): every query and mutation, parity with REST, keyset
//! pagination, exact totals, scopes, limits and bad input — on both backends.

mod fixtures;
mod graphiql;
mod limits;
mod loaders;
mod mutations;
mod pages;
mod parity;
mod scopes;

//! The signed, append-only impact ledger (SPEC §4, §9): strict trip parsing, exact computation
//! with the ACTIVE methodology's factors, hashing and double signing, idempotent appends with
//! their outbox events, reads and verification.

mod compute;
mod error;
mod fields;
mod impact;
mod parse;
mod query;
mod store;
mod totals;
mod trip;
mod verify;

pub use compute::{
    ComputeContext, NewImpact, Prepared, Refusal, co2_avoided_kg, prepare_all, prepare_on_one_core,
};
pub use error::{Conflict, ImpactError, IngestError};
pub use fields::{FieldProblem, TRIP_FIELDS, TripRejected, parse_json_trip, parse_text_trip};
pub use impact::{Impact, same_trip};
pub use parse::{BodyFormat, MAX_TRIPS_PER_REQUEST, TripProblem, TripsBody, parse_body};
pub use query::{ImpactFilter, ImpactOrder, ImpactPage};
pub(crate) use query::{by_keys, count, earliest, impacts};
pub(crate) use store::find;
pub use store::{AppendOutcome, Appended, ConflictPolicy};
pub(crate) use store::{SqliteWriter, append};
pub(crate) use totals::totals;
pub use totals::{TotalsGroup, TotalsRow};
pub use trip::{CountryCode, DistanceKm, GeoHash, Identifier, ValidatedTrip};
pub(crate) use verify::verify;
pub use verify::{TripVerification, verify_impact};

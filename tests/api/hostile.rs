//! Hostile input and concurrency (SPEC §4, §8, §10): each probe gets a 4xx with a code, or its
//! honest answer, never a 5xx; nothing is half-written and no trip is lost.

mod bounds;
mod edge;
mod outage;
mod overlap;
mod raw_http;

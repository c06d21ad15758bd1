//! Integration tests: the simulator and the gateway on random loopback ports,
//! spoken to over real HTTP. One binary, one module per feature.

mod audit;
mod cache;
mod cli;
mod computers;
mod connections;
mod cors;
mod durability;
mod frontend;
mod graphiql;
mod groups;
mod helpers;
mod http_spec;
mod idempotency;
mod introspection;
mod limits;
mod observability;
mod oidc;
mod plan_generator;
mod plans;
mod process;
mod protection;
mod queries;
mod response_cache;
mod review;
mod schema;
mod shutdown;
mod soak;
mod store;
mod teams;
mod trusted;
mod upstream_faults;
mod users;
mod writes;

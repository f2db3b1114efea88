//! Every integration test, in one binary (one link, one process of shared services): each
//! module is one area of the API, run against DynamoDB Local and the local S3 endpoint.

mod cart;
mod catalog;
mod changes;
mod customers;
mod events;
mod exports;
mod hardening;
mod lifecycle;
mod login;
mod logs;
mod media;
mod profile;
mod published_keys;
mod roles;
mod search;
mod sessions;
mod signin;
mod signing_keys;
mod stack;
mod staff;
mod staff_security;
mod tokens;

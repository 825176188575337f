mod config;
mod secret;

fn main() {}

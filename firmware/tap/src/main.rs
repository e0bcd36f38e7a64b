//! `tcplink-tap`: the tcplink core on a Linux TAP interface.
//!
//! std lives only here, at the edge: the TAP adapter, the clock, signals, files and the
//! terminal. The core (`tcplink`) stays no_std and is driven exactly as a board drives it.

mod addresses;
mod cli;
mod commands;
mod download;
mod output;
mod pcap;
mod runner;
mod session;
mod shutdown;
mod tap;
mod trust;
mod uring;
mod verify;
mod vnet;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::session::report;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = cli.net.check() {
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, e)
            .exit();
    }
    init_logging(cli.net.verbose);
    let result = match &cli.command {
        Command::Serve(args) => commands::serve(&cli.net, args),
        Command::Get(args) => commands::get(&cli.net, args),
        Command::Run(args) => commands::run(&cli.net, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line naming the cause: the context chain joined by ": ".
            report(&e);
            ExitCode::FAILURE
        }
    }
}

/// `-v` levels; `RUST_LOG` takes precedence when set. Without `-v` only this program's own
/// warnings show (smoltcp's would be noise on a normal run's stderr); `-vv` adds smoltcp.
fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => "tcplink_tap=warn",
        1 => "tcplink_tap=info,tcplink=info",
        2 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(filter))
        .format_target(verbose >= 2)
        .init();
}

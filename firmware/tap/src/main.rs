//! `tcplink-tap`: the tcplink core on a Linux TAP interface.
//!
//! std lives only here, at the edge: the TAP adapter, the clock, signals, files and the
//! terminal. The core (`tcplink`) stays no_std and is driven exactly as a board drives it.

mod cli;
mod commands;
mod output;
mod pcap;
mod runner;
mod shutdown;
mod tap;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.net.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line naming the cause: the context chain joined by ": ".
            eprintln!("tcplink-tap: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => commands::serve(&cli.net, &args, None),
        Command::Get(args) => commands::get(&cli.net, &args),
        Command::Run(args) => {
            commands::serve(&cli.net, &args.serve, args.get.map(|url| (url, args.fetch)))
        }
    }
}

/// `-v` levels for this program and the core; `RUST_LOG` takes precedence when set.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_target(verbose >= 2)
        .init();
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

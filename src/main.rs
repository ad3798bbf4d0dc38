//! The `occlab` command: no subcommand opens the workbench; subcommands run the same library
//! calls headless, for scripted and reproducible experiments.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use occlab::data::source::data_dir_from;
use occlab::experiment::dataset;
use occlab::experiment::preset::Preset;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "occlab",
    version,
    about = "Workbench for experiments on severely occluded image sequences"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Build the sequences a preset describes and summarise them (counts, coverage, seed, timing).
    Dataset {
        /// The preset TOML file.
        #[arg(long)]
        preset: PathBuf,
        /// Folder with the data sets (defaults to $OCCLAB_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Write a contact sheet PNG (rows of sequences, each image's level marked).
        #[arg(long)]
        sheet: Option<PathBuf>,
        /// Sequences on the contact sheet.
        #[arg(long, default_value_t = 12)]
        sheet_rows: usize,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => occlab::gui::run_native()
            .map_err(|e| anyhow::anyhow!("the workbench window failed: {e}")),
        Some(Command::Dataset {
            preset,
            data_dir,
            sheet,
            sheet_rows,
            json,
        }) => {
            let preset = Preset::load(&preset)?;
            let data_dir = data_dir_from(data_dir.as_deref());
            let prepared = dataset::prepare(&preset, data_dir.as_deref())?;
            let summary = prepared.summary(&preset);
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{summary}");
            }
            if let Some(path) = sheet {
                let img = prepared.contact_sheet(&preset, sheet_rows);
                img.save(&path)
                    .with_context(|| format!("writing the contact sheet {}", path.display()))?;
                if !json {
                    println!(
                        "contact sheet: {} ({}×{} px)",
                        path.display(),
                        img.width(),
                        img.height()
                    );
                }
            }
            Ok(())
        }
    }
}

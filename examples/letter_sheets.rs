//! Contact sheets of letters, to look at: 26 × 10 generated letters with the default settings,
//! 26 × 8 of each embedded font alone, and (with `OCCLAB_DATA_DIR`) 26 × 8 Omniglot letters, the
//! r-th row each letter's r-th writer.
//!
//! ```text
//! cargo run --example letter_sheets [OUT-DIR]     # default: the current folder
//! ```

use occlab::data::ImageSet;
use occlab::data::folder::{FolderOptions, load_folder};
use occlab::data::letters::{LetterConfig, font_names, generate_letters};
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&out)?;
    let letters = |per_class, seed, fonts: Vec<String>| LetterConfig {
        per_class,
        seed,
        fonts: if fonts.is_empty() {
            LetterConfig::default().fonts
        } else {
            fonts
        },
        ..LetterConfig::default()
    };
    let write =
        |set: &ImageSet, rows: usize, name: &str| -> Result<(), Box<dyn std::error::Error>> {
            let path = out.join(name);
            contact_sheet(set, rows, &path)?;
            println!("{}", path.display());
            Ok(())
        };
    write(
        &generate_letters(&letters(10, 2024, vec![]))?,
        10,
        "letters.png",
    )?;
    for font in font_names() {
        let set = generate_letters(&letters(8, 1, vec![font.to_string()]))?;
        write(&set, 8, &format!("letters_{font}.png"))?;
    }
    if let Some(data) = std::env::var_os("OCCLAB_DATA_DIR") {
        let dir = PathBuf::from(data).join("omniglot-latin");
        let real = load_folder(&dir, &FolderOptions::default())?;
        let ids: Vec<usize> = (0..8)
            .flat_map(|r| (0..26).map(move |c| c * 20 + r))
            .collect();
        write(&real.select(&ids), 8, "omniglot.png")?;
    }
    Ok(())
}

/// Writes a contact sheet of generated letters (26 columns, one per class; `rows` rows) as PNG.
fn contact_sheet(set: &ImageSet, rows: usize, path: &Path) -> image::ImageResult<()> {
    let side = set.height;
    let gap = 2;
    let (w, h) = (26 * (side + gap), rows * (side + gap));
    let mut sheet = image::GrayImage::from_pixel(w as u32, h as u32, image::Luma([60]));
    for i in 0..(26 * rows).min(set.len()) {
        let (col, row) = (set.labels[i] as usize, i / 26);
        let img = set.image(i);
        for y in 0..side {
            for x in 0..side {
                let p = image::Luma([img[y * side + x]]);
                sheet.put_pixel(
                    (col * (side + gap) + x) as u32,
                    (row * (side + gap) + y) as u32,
                    p,
                );
            }
        }
    }
    let scaled = image::imageops::resize(
        &sheet,
        w as u32 * 2,
        h as u32 * 2,
        image::imageops::FilterType::Nearest,
    );
    scaled.save(path)
}

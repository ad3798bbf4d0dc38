//! The join address as a QR code: a grid of dark modules (with the 4-module quiet zone the
//! standard asks for), drawn as a PNG for the teacher page, as text for the terminal, and as a
//! texture by the workbench.

/// Modules of quiet zone around the code.
const QUIET: usize = 4;

/// A QR code's modules, row by row, quiet zone included: `true` is dark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrGrid {
    pub size: usize,
    pub dark: Vec<bool>,
}

impl QrGrid {
    /// The code of `text` (medium error correction); `None` if it is too long for a QR code.
    pub fn encode(text: &str) -> Option<QrGrid> {
        let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
        let w = code.width();
        let size = w + 2 * QUIET;
        let colors = code.to_colors();
        let mut dark = vec![false; size * size];
        for y in 0..w {
            for x in 0..w {
                dark[(y + QUIET) * size + x + QUIET] = colors[y * w + x] == qrcode::Color::Dark;
            }
        }
        Some(QrGrid { size, dark })
    }

    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }

    /// Grey pixels (0 dark, 255 light), `scale` pixels per module.
    pub fn pixels(&self, scale: usize) -> (usize, Vec<u8>) {
        let side = self.size * scale;
        let mut px = vec![255u8; side * side];
        for y in 0..side {
            for x in 0..side {
                if self.is_dark(x / scale, y / scale) {
                    px[y * side + x] = 0;
                }
            }
        }
        (side, px)
    }
}

/// The QR code of `text` as a PNG, `scale` pixels per module.
pub fn png(text: &str, scale: usize) -> Option<Vec<u8>> {
    use image::ImageEncoder;
    let grid = QrGrid::encode(text)?;
    let (side, px) = grid.pixels(scale.max(1));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&px, side as u32, side as u32, image::ExtendedColorType::L8)
        .ok()?;
    Some(out)
}

/// The QR code of `text` for a terminal: two modules per character cell (half blocks), light
/// on dark terminals and dark on light ones alike because the quiet zone is drawn.
pub fn text(text: &str) -> Option<String> {
    let grid = QrGrid::encode(text)?;
    let mut s = String::new();
    for y in (0..grid.size).step_by(2) {
        for x in 0..grid.size {
            // Light modules are printed as blocks, dark ones as spaces: on a dark terminal the
            // code reads the right way round, and scanners read both polarities anyway.
            let top = !grid.is_dark(x, y);
            let bottom = !grid.is_dark(x, y + 1) && y + 1 < grid.size;
            s.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        s.push('\n');
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_encodes_with_its_finder_patterns_and_quiet_zone() {
        let g = QrGrid::encode("http://192.168.1.20:8080/#code=ABC234").unwrap();
        assert!(g.size >= 21 + 2 * QUIET);
        // Quiet zone light, the top-left finder pattern's corner dark.
        assert!(!g.is_dark(0, 0) && !g.is_dark(QUIET - 1, QUIET));
        assert!(g.is_dark(QUIET, QUIET) && g.is_dark(QUIET + 6, QUIET + 6));
        let png = png("http://x/", 8).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert_eq!(text("x").unwrap().lines().count(), g_lines("x"));
    }

    fn g_lines(t: &str) -> usize {
        QrGrid::encode(t).unwrap().size.div_ceil(2)
    }
}

//! Which pattern library the GUI offers (the Patterns panel designs any of them, the Train panel
//! trains on the generated ones); the library decides which fits a data set
//! ([`LibraryKind::fitting`]).

use super::*;

/// Where the patterns come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LibraryChoice {
    Digits,
    Cities,
    Labels,
    Custom,
    /// Windows of T letters of the real handwritten words (OCR letters).
    Words,
}

impl LibraryChoice {
    pub const ALL: [LibraryChoice; 5] = [
        LibraryChoice::Digits,
        LibraryChoice::Cities,
        LibraryChoice::Labels,
        LibraryChoice::Custom,
        LibraryChoice::Words,
    ];

    /// The libraries the library generates (the Train panel offers these; real words come from
    /// the OCR letters loaded).
    pub const GENERATED: [LibraryChoice; 4] = [
        LibraryChoice::Digits,
        LibraryChoice::Cities,
        LibraryChoice::Labels,
        LibraryChoice::Words,
    ];

    /// The choice of a library kind.
    pub fn of(kind: LibraryKind) -> Self {
        match kind {
            LibraryKind::DigitProgressions => LibraryChoice::Digits,
            LibraryKind::CityNames => LibraryChoice::Cities,
            LibraryKind::LabelProgressions => LibraryChoice::Labels,
            LibraryKind::UserDefined => LibraryChoice::Custom,
            LibraryKind::Words => LibraryChoice::Words,
        }
    }

    /// The library that fits a data set's classes (the library decides: [`LibraryKind::fitting`]).
    pub fn for_classes(class_names: &[String]) -> Self {
        Self::of(LibraryKind::fitting(class_names))
    }

    /// The sequence length the library is built for (city names have six letters).
    pub fn natural_length(self) -> usize {
        match self {
            LibraryChoice::Cities => LibraryKind::CityNames.natural_length(),
            LibraryChoice::Words => LibraryKind::Words.natural_length(),
            _ => LibraryKind::DigitProgressions.natural_length(),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            LibraryChoice::Digits => "Digit progressions",
            LibraryChoice::Cities => "City names",
            LibraryChoice::Labels => "Label progressions",
            LibraryChoice::Custom => "Custom",
            LibraryChoice::Words => "Real words",
        }
    }

    pub(super) fn hint(self) -> &'static str {
        match self {
            LibraryChoice::Digits => "Arithmetic progressions over 0–9 (MNIST).",
            LibraryChoice::Cities => {
                "Six-letter city names (letters); T = 6, 12, 18 … chains names."
            }
            LibraryChoice::Labels => {
                "Progressions over the data set's own classes, named by class (CIFAR-10)."
            }
            LibraryChoice::Custom => {
                "Your own patterns, one per line: 0-1-2-3-4, BOSTON, cat,dog,cat,dog,cat."
            }
            LibraryChoice::Words => {
                "Windows of T consecutive letters of real handwritten words, as each writer wrote them (OCR letters): English spelling is the context."
            }
        }
    }
}

//! Scenes: 1 to 4 coloured shapes on a white background, one per cell of a 2x2 grid.
//!
//! A scene is everything the ground truth knows about an image; the drawing, the
//! texts and the answers are all derived from it.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Side of a world image in pixels (the vision encoder's input size).
pub const IMAGE_SIZE: u32 = 32;
/// Side of a grid cell in pixels (2x2 cells).
pub const CELL_SIZE: u32 = IMAGE_SIZE / 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Circle,
    Square,
    Triangle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Red,
    Green,
    Blue,
    Yellow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    Large,
}

/// A cell of the 2x2 grid, in reading order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Circle, Kind::Square, Kind::Triangle];

    pub fn word(self) -> &'static str {
        match self {
            Kind::Circle => "circle",
            Kind::Square => "square",
            Kind::Triangle => "triangle",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Circle => "circles",
            Kind::Square => "squares",
            Kind::Triangle => "triangles",
        }
    }
}

impl Colour {
    pub const ALL: [Colour; 4] = [Colour::Red, Colour::Green, Colour::Blue, Colour::Yellow];

    pub fn word(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Yellow => "yellow",
        }
    }

    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [220, 40, 40],
            Colour::Green => [40, 170, 60],
            Colour::Blue => [40, 80, 220],
            Colour::Yellow => [230, 200, 30],
        }
    }
}

impl Size {
    pub const ALL: [Size; 2] = [Size::Small, Size::Large];

    pub fn word(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }

    /// Side of the shape's bounding box in pixels.
    pub fn pixels(self) -> u32 {
        match self {
            Size::Small => 8,
            Size::Large => 12,
        }
    }
}

impl Cell {
    pub const ALL: [Cell; 4] = [Cell::TopLeft, Cell::TopRight, Cell::BottomLeft, Cell::BottomRight];

    pub fn words(self) -> &'static str {
        match self {
            Cell::TopLeft => "top left",
            Cell::TopRight => "top right",
            Cell::BottomLeft => "bottom left",
            Cell::BottomRight => "bottom right",
        }
    }

    /// The cell's name at the start of a sentence ("Top left").
    pub fn heading(self) -> String {
        let words = self.words();
        words[..1].to_uppercase() + &words[1..]
    }

    /// The cell's top-left pixel.
    pub fn origin(self) -> (u32, u32) {
        match self {
            Cell::TopLeft => (0, 0),
            Cell::TopRight => (CELL_SIZE, 0),
            Cell::BottomLeft => (0, CELL_SIZE),
            Cell::BottomRight => (CELL_SIZE, CELL_SIZE),
        }
    }
}

/// One shape. `x`, `y` place its bounding box inside its cell (offsets in pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Object {
    pub kind: Kind,
    pub colour: Colour,
    pub size: Size,
    pub cell: Cell,
    pub x: u32,
    pub y: u32,
}

/// The ground truth of one image: its objects in reading order of their cells.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scene {
    pub objects: Vec<Object>,
}

/// How many shapes a sampled scene has: 1..=4 with these weights (few single-shape
/// scenes: there are only 96 of them without the pixel offsets).
const COUNT_WEIGHTS: [u32; 4] = [2, 3, 3, 2];

impl Scene {
    pub fn sample(rng: &mut impl Rng) -> Scene {
        let total: u32 = COUNT_WEIGHTS.iter().sum();
        let mut pick = rng.random_range(0..total);
        let mut n = 1;
        for (i, w) in COUNT_WEIGHTS.iter().enumerate() {
            if pick < *w {
                n = i + 1;
                break;
            }
            pick -= w;
        }
        let mut cells = Cell::ALL.to_vec();
        // A partial Fisher-Yates shuffle picks n distinct cells.
        for i in 0..n {
            let j = rng.random_range(i..cells.len());
            cells.swap(i, j);
        }
        let mut cells = cells[..n].to_vec();
        cells.sort();
        let objects = cells
            .into_iter()
            .map(|cell| {
                let size = Size::ALL[rng.random_range(0..Size::ALL.len())];
                let slack = CELL_SIZE - size.pixels();
                Object {
                    kind: Kind::ALL[rng.random_range(0..Kind::ALL.len())],
                    colour: Colour::ALL[rng.random_range(0..Colour::ALL.len())],
                    size,
                    cell,
                    x: rng.random_range(0..=slack),
                    y: rng.random_range(0..=slack),
                }
            })
            .collect();
        Scene { objects }
    }

    pub fn at(&self, cell: Cell) -> Option<&Object> {
        self.objects.iter().find(|o| o.cell == cell)
    }

    pub fn count_where(&self, f: impl Fn(&Object) -> bool) -> usize {
        self.objects.iter().filter(|o| f(o)).count()
    }
}

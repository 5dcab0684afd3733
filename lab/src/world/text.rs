//! The world's language: descriptions of scenes, closed questions with their answers,
//! descriptions with injected errors, and a parser that reads a description back into
//! claims (to grade what a model wrote).
//!
//! A description goes through the four cells in reading order, empty ones included,
//! and ends with the count: "Top left: a large red circle. Top right: nothing. Bottom
//! left: nothing. Bottom right: a small blue square. There are two shapes."
//!
//! Naming every cell before what is in it is what lets a small model trained from
//! scratch learn to read the image: each detail is looked up in a cell named a few
//! tokens earlier, four lookups per description in a fixed order, and the count
//! follows from what was written. Descriptions that listed only the shapes (`A large
//! red circle is in the top left.`) left the base naming colours at chance; see the
//! README's world section for the measurements.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::scene::{Cell, Colour, Kind, Scene, Size};

pub const NUMBERS: [&str; 5] = ["zero", "one", "two", "three", "four"];

/// The open questions: each asks for a description.
pub const OPEN_QUESTIONS: [&str; 2] = ["Describe the image.", "What is in the image?"];

/// What a description says about one shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShapeClaim {
    pub cell: Cell,
    pub size: Size,
    pub colour: Colour,
    pub kind: Kind,
}

/// What a description claims: the stated count and the shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub count: usize,
    pub shapes: Vec<ShapeClaim>,
}

impl Claims {
    pub fn of(scene: &Scene) -> Claims {
        let shapes = scene
            .objects
            .iter()
            .map(|o| ShapeClaim { cell: o.cell, size: o.size, colour: o.colour, kind: o.kind })
            .collect();
        Claims { count: scene.objects.len(), shapes }
    }

    /// Order-independent equality (the count and the set of shapes).
    pub fn same_as(&self, other: &Claims) -> bool {
        let mut a = self.shapes.clone();
        let mut b = other.shapes.clone();
        a.sort();
        b.sort();
        self.count == other.count && a == b
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for cell in Cell::ALL {
            match self.shapes.iter().find(|s| s.cell == cell) {
                Some(s) => out.push_str(&shape_sentence(s)),
                None => out.push_str(&empty_sentence(cell)),
            }
        }
        // Shapes a corrupted claim put in an occupied cell come after the grid.
        for (i, s) in self.shapes.iter().enumerate() {
            if self.shapes[..i].iter().any(|t| t.cell == s.cell) {
                out.push_str(&shape_sentence(s));
            }
        }
        out.push_str(&match self.count {
            1 => "There is one shape.".to_string(),
            n => format!("There are {} shapes.", number(n)),
        });
        out
    }

    /// Reads a description in the world's style; sentences it does not understand are
    /// skipped (a description with none understood gives `None`).
    pub fn parse(text: &str) -> Option<Claims> {
        let mut count = None;
        let mut shapes = Vec::new();
        for sentence in text.split('.').map(str::trim).filter(|s| !s.is_empty()) {
            let words: Vec<&str> = sentence.split_whitespace().collect();
            match words.as_slice() {
                ["There", "is" | "are", n, "shape" | "shapes"] => count = NUMBERS.iter().position(|w| w == n),
                [v, h, "a", size, colour, kind] if h.ends_with(':') => {
                    let cell = format!("{} {}", v.to_lowercase(), h.trim_end_matches(':'));
                    let shape = (|| {
                        Some(ShapeClaim {
                            size: *Size::ALL.iter().find(|s| s.word() == *size)?,
                            colour: *Colour::ALL.iter().find(|c| c.word() == *colour)?,
                            kind: *Kind::ALL.iter().find(|k| k.word() == *kind)?,
                            cell: *Cell::ALL.iter().find(|c| c.words() == cell)?,
                        })
                    })();
                    shapes.extend(shape);
                }
                _ => {}
            }
        }
        if count.is_none() && shapes.is_empty() {
            return None;
        }
        Some(Claims { count: count.unwrap_or(usize::MAX), shapes })
    }
}

/// One shape's sentence of a description, with a trailing space.
fn shape_sentence(s: &ShapeClaim) -> String {
    format!("{}: a {} {} {}. ", s.cell.heading(), s.size.word(), s.colour.word(), s.kind.word())
}

/// An empty cell's sentence of a description, with a trailing space.
fn empty_sentence(cell: Cell) -> String {
    format!("{}: nothing. ", cell.heading())
}

pub fn number(n: usize) -> &'static str {
    NUMBERS.get(n).copied().unwrap_or("many")
}

/// The correct description of `scene`.
pub fn describe(scene: &Scene) -> String {
    Claims::of(scene).render()
}

/// A kind of detail a wrong description changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Colour,
    Shape,
    Size,
    Position,
    /// A shape added (a hallucination) or left out, with the count sentence following.
    Count,
}

/// `scene`'s description with one or two details changed, in the same style, and the
/// changes made. The result always differs from the truth.
pub fn corrupt(scene: &Scene, n_changes: usize, rng: &mut impl Rng) -> (String, Vec<Change>) {
    let truth = Claims::of(scene);
    loop {
        let mut claims = truth.clone();
        let mut changes = Vec::new();
        while changes.len() < n_changes {
            let change =
                [Change::Colour, Change::Shape, Change::Size, Change::Position, Change::Count][rng.random_range(0..5)];
            if changes.contains(&change) {
                continue;
            }
            if apply(&mut claims, change, rng) {
                changes.push(change);
            }
        }
        if !claims.same_as(&truth) {
            return (claims.render(), changes);
        }
    }
}

fn apply(claims: &mut Claims, change: Change, rng: &mut impl Rng) -> bool {
    let n = claims.shapes.len();
    if n == 0 {
        return false;
    }
    let i = rng.random_range(0..n);
    let s = &mut claims.shapes[i];
    match change {
        Change::Colour => s.colour = other(&Colour::ALL, s.colour, rng),
        Change::Shape => s.kind = other(&Kind::ALL, s.kind, rng),
        Change::Size => s.size = other(&Size::ALL, s.size, rng),
        Change::Position => {
            let taken: Vec<Cell> = claims.shapes.iter().map(|s| s.cell).collect();
            let free: Vec<Cell> = Cell::ALL.into_iter().filter(|c| !taken.contains(c)).collect();
            let s = &mut claims.shapes[i];
            s.cell =
                if free.is_empty() { other(&Cell::ALL, s.cell, rng) } else { free[rng.random_range(0..free.len())] };
            claims.shapes.sort_by_key(|s| s.cell);
        }
        Change::Count => {
            let taken: Vec<Cell> = claims.shapes.iter().map(|s| s.cell).collect();
            let free: Vec<Cell> = Cell::ALL.into_iter().filter(|c| !taken.contains(c)).collect();
            let add = n == 1 || (!free.is_empty() && rng.random_bool(0.5));
            if add {
                if free.is_empty() {
                    return false;
                }
                claims.shapes.push(ShapeClaim {
                    cell: free[rng.random_range(0..free.len())],
                    size: Size::ALL[rng.random_range(0..2)],
                    colour: Colour::ALL[rng.random_range(0..4)],
                    kind: Kind::ALL[rng.random_range(0..3)],
                });
                claims.shapes.sort_by_key(|s| s.cell);
            } else {
                claims.shapes.remove(i);
            }
            claims.count = claims.shapes.len();
        }
    }
    true
}

fn other<T: Copy + PartialEq>(all: &[T], not: T, rng: &mut impl Rng) -> T {
    let rest: Vec<T> = all.iter().copied().filter(|x| *x != not).collect();
    rest[rng.random_range(0..rest.len())]
}

/// The category of a closed question (also the heldout category).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Counting,
    Colour,
    Position,
    Shape,
    Description,
}

impl Category {
    pub const CLOSED: [Category; 4] = [Category::Counting, Category::Colour, Category::Position, Category::Shape];
    pub const ALL: [Category; 5] =
        [Category::Counting, Category::Colour, Category::Position, Category::Shape, Category::Description];

    pub fn name(self) -> &'static str {
        match self {
            Category::Counting => "counting",
            Category::Colour => "colour",
            Category::Position => "position",
            Category::Shape => "shape",
            Category::Description => "description",
        }
    }
}

/// A closed question about a scene with its answer and the answers it could have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedQuestion {
    pub category: Category,
    pub question: String,
    pub answer: String,
    /// Every well-formed answer to this question (the right one included).
    pub candidates: Vec<String>,
}

impl ClosedQuestion {
    /// A wrong but well-formed answer.
    pub fn wrong_answer(&self, rng: &mut impl Rng) -> String {
        let wrong: Vec<&String> = self.candidates.iter().filter(|c| **c != self.answer).collect();
        wrong[rng.random_range(0..wrong.len())].clone()
    }
}

/// A closed question of `category` about `scene`, or `None` when the scene offers no
/// unambiguous one (e.g. no shape with a unique colour and kind to ask the position of).
pub fn closed_question(scene: &Scene, category: Category, rng: &mut impl Rng) -> Option<ClosedQuestion> {
    let words = |xs: &mut dyn Iterator<Item = &'static str>| xs.map(String::from).collect::<Vec<_>>();
    let pick = |rng: &mut dyn rand::RngCore, n: usize| rng.random_range(0..n);
    let (question, answer, candidates) = match category {
        Category::Counting => match pick(rng, 3) {
            0 => (
                "How many shapes are there?".to_string(),
                number(scene.objects.len()),
                words(&mut NUMBERS[1..].iter().copied()),
            ),
            1 => {
                let k = Kind::ALL[pick(rng, 3)];
                (
                    format!("How many {} are there?", k.plural()),
                    number(scene.count_where(|o| o.kind == k)),
                    words(&mut NUMBERS.iter().copied()),
                )
            }
            _ => {
                let c = Colour::ALL[pick(rng, 4)];
                (
                    format!("How many {} shapes are there?", c.word()),
                    number(scene.count_where(|o| o.colour == c)),
                    words(&mut NUMBERS.iter().copied()),
                )
            }
        },
        Category::Colour => {
            let o = scene.objects[pick(rng, scene.objects.len())];
            let question = if scene.count_where(|x| x.kind == o.kind) == 1 && rng.random_bool(0.5) {
                format!("What colour is the {}?", o.kind.word())
            } else {
                format!("What colour is the shape in the {}?", o.cell.words())
            };
            (question, o.colour.word(), words(&mut Colour::ALL.iter().map(|c| c.word())))
        }
        Category::Position => {
            let unique: Vec<_> = scene
                .objects
                .iter()
                .filter(|o| scene.count_where(|x| x.kind == o.kind && x.colour == o.colour) == 1)
                .collect();
            if unique.is_empty() {
                return None;
            }
            let o = unique[pick(rng, unique.len())];
            (
                format!("Where is the {} {}?", o.colour.word(), o.kind.word()),
                o.cell.words(),
                words(&mut Cell::ALL.iter().map(|c| c.words())),
            )
        }
        Category::Shape => {
            let o = scene.objects[pick(rng, scene.objects.len())];
            (
                format!("What shape is in the {}?", o.cell.words()),
                o.kind.word(),
                words(&mut Kind::ALL.iter().map(|k| k.word())),
            )
        }
        Category::Description => return None,
    };
    Some(ClosedQuestion { category, question, answer: answer.to_string(), candidates })
}

/// A closed question of a random category (retrying categories the scene cannot ask).
pub fn any_closed_question(scene: &Scene, rng: &mut impl Rng) -> ClosedQuestion {
    loop {
        let category = Category::CLOSED[rng.random_range(0..Category::CLOSED.len())];
        if let Some(q) = closed_question(scene, category, rng) {
            return q;
        }
    }
}

/// Texts that cover the world's vocabulary (every word, in the forms it takes in
/// questions, answers and descriptions), for building a tokenizer.
pub fn vocabulary_texts() -> Vec<String> {
    let mut texts: Vec<String> = OPEN_QUESTIONS.iter().map(|s| s.to_string()).collect();
    texts.extend(NUMBERS.iter().map(|s| s.to_string()));
    texts.extend(Colour::ALL.iter().map(|c| c.word().to_string()));
    texts.extend(Kind::ALL.iter().map(|k| k.word().to_string()));
    texts.extend(Cell::ALL.iter().map(|c| c.words().to_string()));
    // The count ends a description, after a space.
    texts.push(" There is one shape.".into());
    for n in 2..=4 {
        texts.push(format!(" There are {} shapes.", number(n)));
    }
    for s in Size::ALL {
        for c in Colour::ALL {
            for k in Kind::ALL {
                for cell in Cell::ALL {
                    texts.push(shape_sentence(&ShapeClaim { cell, size: s, colour: c, kind: k }));
                }
                texts.push(format!("Where is the {} {}?", c.word(), k.word()));
                texts.push(format!("How many {} are there?", k.plural()));
                texts.push(format!("What colour is the {}?", k.word()));
            }
            texts.push(format!("How many {} shapes are there?", c.word()));
        }
    }
    for cell in Cell::ALL {
        texts.push(empty_sentence(cell));
        texts.push(format!("What colour is the shape in the {}?", cell.words()));
        texts.push(format!("What shape is in the {}?", cell.words()));
    }
    texts.push("How many shapes are there?".into());
    texts
}

/// The true answer to a closed question in the world's phrasing, worked out from the
/// scene alone (an oracle independent of how questions are generated); `None` for a
/// question it does not know or one the scene leaves ambiguous.
pub fn answer_question(scene: &Scene, question: &str) -> Option<String> {
    let q = question.strip_suffix('?')?;
    let words: Vec<&str> = q.split_whitespace().collect();
    let kind = |w: &str| Kind::ALL.into_iter().find(|k| k.word() == w || k.plural() == w);
    let colour = |w: &str| Colour::ALL.into_iter().find(|c| c.word() == w);
    let cell = |v: &str, h: &str| Cell::ALL.into_iter().find(|c| c.words() == format!("{v} {h}"));
    let unique = |f: &dyn Fn(&super::scene::Object) -> bool| {
        let found: Vec<_> = scene.objects.iter().filter(|o| f(o)).collect();
        (found.len() == 1).then(|| *found[0])
    };
    let answer = match words.as_slice() {
        ["How", "many", "shapes", "are", "there"] => number(scene.objects.len()).to_string(),
        ["How", "many", w, "are", "there"] => {
            let k = kind(w)?;
            number(scene.count_where(|o| o.kind == k)).to_string()
        }
        ["How", "many", c, "shapes", "are", "there"] => {
            let c = colour(c)?;
            number(scene.count_where(|o| o.colour == c)).to_string()
        }
        ["What", "colour", "is", "the", "shape", "in", "the", v, h] => scene.at(cell(v, h)?)?.colour.word().to_string(),
        ["What", "colour", "is", "the", k] => {
            let k = kind(k)?;
            unique(&|o| o.kind == k)?.colour.word().to_string()
        }
        ["Where", "is", "the", c, k] => {
            let (c, k) = (colour(c)?, kind(k)?);
            unique(&|o| o.kind == k && o.colour == c)?.cell.words().to_string()
        }
        ["What", "shape", "is", "in", "the", v, h] => scene.at(cell(v, h)?)?.kind.word().to_string(),
        _ => return None,
    };
    Some(answer)
}

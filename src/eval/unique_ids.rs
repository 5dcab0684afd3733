//! Making a benchmark's duplicate ids unique, deterministically.

use std::collections::HashMap;

use super::item::BenchItem;

/// Renames every item whose id occurs more than once to `<id>#row<index>` (its 0-based
/// row in the file), so each keeps a stable id across runs (resuming and merging key
/// on ids) whatever the other rows are. Returns a note saying what was renamed, or
/// `None` when every id was unique already.
pub(crate) fn make_ids_unique(items: &mut [BenchItem]) -> Option<String> {
    let mut count: HashMap<String, usize> = HashMap::new();
    for item in items.iter() {
        *count.entry(item.id.clone()).or_default() += 1;
    }
    let duplicated: Vec<&String> = count.iter().filter(|(_, &n)| n > 1).map(|(id, _)| id).collect();
    if duplicated.is_empty() {
        return None;
    }
    let mut first = None;
    let mut renamed = 0;
    for (row, item) in items.iter_mut().enumerate() {
        if count[&item.id] > 1 {
            let new_id = format!("{}#row{row}", item.id);
            first.get_or_insert_with(|| format!("{:?} -> {new_id:?}", item.id));
            item.id = new_id;
            renamed += 1;
        }
    }
    Some(format!(
        "{} id(s) occur more than once (an earlier release of the benchmark had duplicate ids); their {renamed} \
         rows were renamed to <id>#row<row index>, e.g. {}",
        duplicated.len(),
        first.unwrap_or_default()
    ))
}

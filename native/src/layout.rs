//! The fixed-width window member of each entity, as `features/window_format.py`
//! defines it (MEMBER_DTYPES): the kernel is handed the record size and each
//! field's byte offset once, so that module stays the one place the layout is written.

use std::collections::HashMap;

use crate::catalogue::{CARD, CATEGORICAL, DISTINCT_OF, FIRST_USE_OF};

/// Byte offsets of the fields the features read, in one little-endian record.
#[derive(Clone, Debug)]
pub struct MemberLayout {
    pub size: usize,
    pub ts: usize,
    pub amount: usize,
    /// By CATEGORICAL index; None where the entity's members do not carry it.
    pub attributes: [Option<usize>; 6],
    pub latitude: Option<usize>,
    pub longitude: Option<usize>,
}

impl MemberLayout {
    /// From `{"size": itemsize, field name: offset, ...}`, checking that every field the
    /// entity's features read is there and inside the record.
    pub fn new(entity: usize, fields: &HashMap<String, usize>) -> Result<MemberLayout, String> {
        let name = CATEGORICAL[entity];
        let size = *fields
            .get("size")
            .ok_or_else(|| format!("{name} member layout: no size"))?;
        let field = |f: &str| -> Result<usize, String> {
            let offset = *fields
                .get(f)
                .ok_or_else(|| format!("{name} member layout: no field {f:?}"))?;
            if offset + 8 > size {
                return Err(format!(
                    "{name} member layout: {f:?} at {offset} is outside {size} bytes"
                ));
            }
            Ok(offset)
        };
        let mut attributes = [None; 6];
        for &a in DISTINCT_OF[entity].iter().chain(FIRST_USE_OF[entity]) {
            attributes[a] = Some(field(CATEGORICAL[a])?);
        }
        let located = entity == CARD;
        Ok(MemberLayout {
            size,
            ts: field("ts")?,
            amount: field("amount")?,
            attributes,
            latitude: if located {
                Some(field("latitude")?)
            } else {
                None
            },
            longitude: if located {
                Some(field("longitude")?)
            } else {
                None
            },
        })
    }
}

//! The container format of `models/slovnet-ner-news.bin`, as written by
//! `scripts/convert_slovnet.py`: named, typed, shaped sections.
//!
//! Owns parsing and validation of the section table only; what the sections
//! mean belongs to the modules that use them. It must never panic on
//! malformed bytes: a truncated or inconsistent file is a [`SlovnetError`].
//! Sections are kept as byte ranges into the caller's buffer, so the large
//! ones (vocabulary, PQ indexes) can be used in place without copying.

use std::collections::HashMap;
use std::ops::Range;

use super::SlovnetError;

pub(super) const MAGIC: &[u8; 8] = b"FWSLVNT1";

/// Element type of a section, as numbered by the converter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dtype {
    F32,
    U8,
    U32,
    /// UTF-8 items separated by `\n`.
    Text,
}

impl Dtype {
    fn from_code(code: u8) -> Option<Dtype> {
        match code {
            1 => Some(Dtype::F32),
            2 => Some(Dtype::U8),
            3 => Some(Dtype::U32),
            4 => Some(Dtype::Text),
            _ => None,
        }
    }

    fn width(self) -> Option<usize> {
        match self {
            Dtype::F32 | Dtype::U32 => Some(4),
            Dtype::U8 => Some(1),
            Dtype::Text => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Section {
    pub dtype: Dtype,
    pub dims: Vec<usize>,
    pub range: Range<usize>,
}

/// The section table of one model file.
#[derive(Debug)]
pub(super) struct Sections<'a> {
    bytes: &'a [u8],
    map: HashMap<String, Section>,
}

/// A little-endian cursor that reports where it ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SlovnetError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(SlovnetError::Truncated(self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SlovnetError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, SlovnetError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, SlovnetError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, SlovnetError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, SlovnetError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

impl<'a> Sections<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Sections<'a>, SlovnetError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            return Err(SlovnetError::BadMagic);
        }
        let count = r.u32()?;
        let mut map = HashMap::new();
        for _ in 0..count {
            let name_len = usize::from(r.u16()?);
            let name = std::str::from_utf8(r.take(name_len)?)
                .map_err(|_| SlovnetError::Invalid("section name is not UTF-8".into()))?
                .to_owned();
            let dtype = Dtype::from_code(r.u8()?)
                .ok_or_else(|| SlovnetError::Invalid(format!("{name}: unknown dtype")))?;
            let ndim = r.u8()?;
            let dims = (0..ndim)
                .map(|_| r.u32().map(|d| d as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let len = usize::try_from(r.u64()?).map_err(|_| SlovnetError::Truncated(r.pos))?;
            let start = r.pos;
            r.take(len)?;
            if let Some(width) = dtype.width() {
                let elems = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
                if elems.and_then(|e| e.checked_mul(width)) != Some(len) {
                    return Err(SlovnetError::Invalid(format!(
                        "{name}: {len} bytes do not hold {dims:?}"
                    )));
                }
            }
            map.insert(
                name,
                Section {
                    dtype,
                    dims,
                    range: start..start + len,
                },
            );
        }
        Ok(Sections { bytes, map })
    }

    /// The section `name` with the expected type and, where given, shape
    /// (`None` dims are free).
    pub fn get(
        &self,
        name: &str,
        dtype: Dtype,
        dims: &[Option<usize>],
    ) -> Result<&Section, SlovnetError> {
        let s = self
            .map
            .get(name)
            .ok_or_else(|| SlovnetError::Invalid(format!("missing section {name}")))?;
        let shape_ok = s.dims.len() == dims.len()
            && s.dims
                .iter()
                .zip(dims)
                .all(|(&have, want)| want.is_none_or(|w| w == have));
        if s.dtype != dtype || !shape_ok {
            return Err(SlovnetError::Invalid(format!(
                "section {name}: {:?} {:?}, expected {dtype:?} {dims:?}",
                s.dtype, s.dims
            )));
        }
        Ok(s)
    }

    pub fn bytes(&self, s: &Section) -> &'a [u8] {
        &self.bytes[s.range.clone()]
    }

    /// A float section copied out (the file gives no alignment guarantee).
    pub fn f32s(&self, name: &str, dims: &[usize]) -> Result<Vec<f32>, SlovnetError> {
        let want: Vec<Option<usize>> = dims.iter().map(|&d| Some(d)).collect();
        let s = self.get(name, Dtype::F32, &want)?;
        Ok(self
            .bytes(s)
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// A text section split into its items.
    pub fn text(&self, name: &str) -> Result<Vec<&'a str>, SlovnetError> {
        let s = self.get(name, Dtype::Text, &[None])?;
        let text = std::str::from_utf8(self.bytes(s))
            .map_err(|_| SlovnetError::Invalid(format!("{name} is not UTF-8")))?;
        let items: Vec<&str> = text.split('\n').collect();
        if items.len() != s.dims[0] {
            return Err(SlovnetError::Invalid(format!(
                "{name}: {} items, header says {}",
                items.len(),
                s.dims[0]
            )));
        }
        Ok(items)
    }
}

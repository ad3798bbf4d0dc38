//! Checkpoints written with the LSTM's gates stored one by one, read into today's layout.
//!
//! Until 2026-12-03 occlab's [`SequenceLstm`](super::crnn::SequenceLstm) kept Burn's per-gate
//! parameters (`….lstm.input_gate.input_transform.weight` `[c, d]`, and so on for the forget,
//! output and cell gates and their hidden transforms); now it keeps each transform's four gates
//! side by side (`….lstm.input.weight` `[c, 4d]`, gate blocks in the order i, f, o, g). A run
//! trained before that still opens and still resumes: its model file and its optimizer file
//! (Adam's moments, keyed by parameter id) are rewritten in memory when read, each gate's block
//! concatenated along the last axis, exactly as [`SequenceLstm::from_burn`] fuses a Burn LSTM.
//! The fused parameter keeps the id of the input gate's, so the two files still agree. The files
//! on disk are left alone until the next checkpoint overwrites them in the new layout.
//!
//! [`SequenceLstm::from_burn`]: super::crnn::SequenceLstm::from_burn

use std::collections::BTreeMap;

use burn_pack::{Reader, Tensor as PackTensor, Writer};

/// Gate names in the order of their blocks in the fused weights.
const GATES: [&str; 4] = ["input_gate", "forget_gate", "output_gate", "cell_gate"];
/// Per-gate transform names and the fused parameter each becomes.
const TRANSFORMS: [(&str, &str); 2] =
    [("input_transform", "input"), ("hidden_transform", "hidden")];

/// Where a per-gate LSTM parameter path goes: `(fused path, gate index)`, or `None` for any
/// other parameter. `recurrent.lstm.forget_gate.hidden_transform.bias` →
/// `("recurrent.lstm.hidden.bias", 1)`.
fn fused_path(path: &str) -> Option<(String, usize)> {
    let mut parts = path.rsplitn(4, '.');
    let kind = parts.next()?;
    let transform = parts.next()?;
    let gate = parts.next()?;
    let prefix = parts.next();
    if kind != "weight" && kind != "bias" {
        return None;
    }
    let fused = TRANSFORMS.iter().find(|(t, _)| *t == transform)?.1;
    let index = GATES.iter().position(|g| *g == gate)?;
    let path = match prefix {
        Some(prefix) => format!("{prefix}.{fused}.{kind}"),
        None => format!("{fused}.{kind}"),
    };
    Some((path, index))
}

/// The four gates' tensors side by side along the last axis, named `name`.
fn concatenate(
    name: String,
    param_id: Option<u64>,
    parts: [Option<PackTensor>; 4],
) -> Result<PackTensor, String> {
    let mut tensors = Vec::with_capacity(4);
    for (gate, part) in GATES.iter().zip(parts) {
        tensors.push(part.ok_or_else(|| {
            format!("the LSTM's {gate} is missing for `{name}` (a checkpoint with some gates only)")
        })?);
    }
    let first = &tensors[0];
    let (dtype, dims) = (first.dtype, first.shape.to_vec());
    let Some((&cols, rows)) = dims.split_last() else {
        return Err(format!(
            "`{}` is a scalar, not a gate's weights",
            first.name
        ));
    };
    if let Some(odd) = tensors
        .iter()
        .find(|t| t.dtype != dtype || t.shape.as_slice() != dims.as_slice())
    {
        return Err(format!(
            "the LSTM's gates differ: `{}` is {:?} {:?}, `{}` is {:?} {:?}",
            first.name,
            dtype,
            dims,
            odd.name,
            odd.dtype,
            odd.shape.as_slice()
        ));
    }
    let rows: usize = rows.iter().product();
    let mut blocks = Vec::with_capacity(4);
    for t in tensors {
        let what = t.name.clone();
        let bytes = t.into_bytes().map_err(|e| format!("`{what}`: {e}"))?;
        if rows * cols == 0 || bytes.len() % (rows * cols) != 0 {
            return Err(format!(
                "`{what}`: {} bytes do not hold {rows} × {cols} values",
                bytes.len()
            ));
        }
        blocks.push(bytes);
    }
    let row_bytes = blocks[0].len() / rows;
    let mut out = Vec::with_capacity(blocks[0].len() * 4);
    for r in 0..rows {
        for block in &blocks {
            out.extend_from_slice(&block[r * row_bytes..(r + 1) * row_bytes]);
        }
    }
    let mut shape = dims;
    *shape.last_mut().expect("not a scalar") = cols * 4;
    Ok(PackTensor::new(
        name,
        dtype,
        shape,
        param_id,
        burn_pack::Bytes::from_bytes_vec(out),
    ))
}

/// Whether a model file has an LSTM stored gate by gate.
pub fn model_pack_is_per_gate(reader: &Reader) -> bool {
    reader
        .tensor_names()
        .iter()
        .any(|n| fused_path(n).is_some())
}

/// Whether an optimizer file holds the state of an LSTM stored gate by gate.
pub fn optimizer_pack_is_per_gate(reader: &Reader) -> bool {
    reader.metadata().values().any(|p| fused_path(p).is_some())
}

/// A model file (a module record: one tensor per parameter, named by its path) with its per-gate
/// LSTM parameters fused. Other tensors pass unchanged.
pub fn upgrade_model_pack(reader: Reader) -> Result<Writer, String> {
    let mut kept = Vec::new();
    let mut groups: BTreeMap<String, [Option<PackTensor>; 4]> = BTreeMap::new();
    for tensor in reader.into_tensors().map_err(|e| e.to_string())? {
        match fused_path(&tensor.name) {
            Some((fused, gate)) => groups.entry(fused).or_default()[gate] = Some(tensor),
            None => kept.push(tensor),
        }
    }
    for (fused, parts) in groups {
        let id = parts[0].as_ref().and_then(|t| t.param_id);
        kept.push(concatenate(fused, id, parts)?);
    }
    Ok(Writer::new(kept))
}

/// An optimizer file (Burn's `OptimizerRecord`: tensors `"{id}.{state}"`, scalars
/// `"{id}.{state}"`, metadata id → parameter path) with the state of per-gate LSTM parameters
/// fused: the four gates' tensors of each state concatenated under the input gate's id, the
/// input gate's scalars kept (Adam's step count is the same for all four), the other three ids
/// dropped.
pub fn upgrade_optimizer_pack(reader: Reader) -> Result<Writer, String> {
    let metadata = reader.metadata().clone();
    let scalars = reader.scalars().clone();
    // id → (fused path, gate), for the per-gate LSTM parameters.
    let gate_of: BTreeMap<&str, (String, usize)> = metadata
        .iter()
        .filter_map(|(id, path)| fused_path(path).map(|f| (id.as_str(), f)))
        .collect();
    // fused path → the input gate's id, which the fused parameter keeps.
    let mut fused_ids: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, (fused, gate)) in &gate_of {
        if *gate == 0 {
            fused_ids.insert(fused.as_str(), id);
        }
    }
    let split_id = |name: &str| {
        name.split_once('.')
            .map(|(id, rest)| (id.to_string(), rest.to_string()))
    };

    let mut kept = Vec::new();
    let mut groups: BTreeMap<(String, String), [Option<PackTensor>; 4]> = BTreeMap::new();
    for tensor in reader.into_tensors().map_err(|e| e.to_string())? {
        let gate = split_id(&tensor.name)
            .and_then(|(id, state)| gate_of.get(id.as_str()).map(|g| (g, state)));
        match gate {
            Some(((fused, gate), state)) => {
                groups.entry((fused.clone(), state)).or_default()[*gate] = Some(tensor)
            }
            None => kept.push(tensor),
        }
    }
    for ((fused, state), parts) in groups {
        let id = fused_ids
            .get(fused.as_str())
            .ok_or_else(|| format!("no optimizer state of the LSTM's input gate for `{fused}`"))?;
        let param_id = id
            .parse::<u64>()
            .map_err(|_| format!("parameter id `{id}` is not a number"))?;
        kept.push(concatenate(format!("{id}.{state}"), Some(param_id), parts)?);
    }
    let mut writer = Writer::new(kept);
    for (key, value) in &scalars {
        let dropped = split_id(key)
            .and_then(|(id, _)| gate_of.get(id.as_str()))
            .is_some_and(|(_, gate)| *gate != 0);
        if !dropped {
            writer = writer.with_scalar(key, *value);
        }
    }
    for (id, path) in &metadata {
        match gate_of.get(id.as_str()) {
            Some((fused, 0)) => writer = writer.with_metadata(id, fused),
            Some(_) => {}
            None => writer = writer.with_metadata(id, path),
        }
    }
    Ok(writer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack_tensor(name: &str, dims: &[usize], id: u64) -> PackTensor {
        let values: Vec<f32> = (0..dims.iter().product::<usize>())
            .map(|v| v as f32)
            .collect();
        PackTensor::new(
            name.into(),
            burn_pack::DType::F32,
            dims.to_vec(),
            Some(id),
            burn_pack::Bytes::from_elems(values),
        )
    }

    fn reader(tensors: Vec<PackTensor>) -> Reader {
        Reader::from_bytes(Writer::new(tensors).into_bytes().unwrap()).unwrap()
    }

    #[test]
    fn gate_blocks_sit_side_by_side_row_by_row() {
        // Weights [2 inputs, 3 units] per gate: each row of the fused [2, 12] weight is the four
        // gates' rows one after another; other tensors pass unchanged.
        let mut tensors: Vec<PackTensor> = GATES
            .iter()
            .enumerate()
            .map(|(g, gate)| {
                let values: Vec<f32> = (0..6).map(|v| (10 * g + v) as f32).collect();
                PackTensor::new(
                    format!("lstm.{gate}.input_transform.weight"),
                    burn_pack::DType::F32,
                    vec![2, 3],
                    Some(g as u64),
                    burn_pack::Bytes::from_elems(values),
                )
            })
            .collect();
        tensors.push(pack_tensor("output.weight", &[3, 2], 9));
        let pack = reader(tensors);
        assert!(model_pack_is_per_gate(&pack));
        let out =
            Reader::from_bytes(upgrade_model_pack(pack).unwrap().into_bytes().unwrap()).unwrap();
        assert!(!model_pack_is_per_gate(&out));
        let mut tensors = out.into_tensors().unwrap();
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(tensors[0].name, "lstm.input.weight");
        assert_eq!(tensors[0].shape.as_slice(), &[2, 12]);
        assert_eq!(tensors[0].param_id, Some(0), "the input gate's id");
        let bytes = tensors[0].to_bytes().unwrap();
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let expected: Vec<f32> = [
            0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32, 3, 4, 5, 13, 14, 15, 23, 24, 25, 33, 34,
            35,
        ]
        .iter()
        .map(|&v| v as f32)
        .collect();
        assert_eq!(values, expected);
        assert_eq!(tensors[1].name, "output.weight");
        assert_eq!(tensors[1].shape.as_slice(), &[3, 2]);
    }

    #[test]
    fn a_checkpoint_with_a_gate_missing_is_refused_naming_it() {
        let tensors = ["input_gate", "output_gate", "cell_gate"]
            .iter()
            .enumerate()
            .map(|(i, gate)| {
                pack_tensor(
                    &format!("lstm.{gate}.hidden_transform.bias"),
                    &[4],
                    i as u64,
                )
            })
            .collect();
        let err = upgrade_model_pack(reader(tensors)).err().expect("refused");
        assert!(
            err.contains("forget_gate is missing") && err.contains("lstm.hidden.bias"),
            "{err}"
        );
    }

    #[test]
    fn per_gate_paths_map_to_the_fused_parameter_and_the_gate_block() {
        assert_eq!(
            fused_path("recurrent.lstm.forget_gate.hidden_transform.bias"),
            Some(("recurrent.lstm.hidden.bias".into(), 1))
        );
        assert_eq!(
            fused_path("input_gate.input_transform.weight"),
            Some(("input.weight".into(), 0))
        );
        assert_eq!(
            fused_path("lstm.cell_gate.input_transform.weight"),
            Some(("lstm.input.weight".into(), 3))
        );
        for other in [
            "recurrent.output.weight",
            "unit.conv1.weight",
            "recurrent.lstm.input.weight",
            "x.output_gate.input_transform.gamma",
            "weight",
        ] {
            assert_eq!(fused_path(other), None, "{other}");
        }
    }
}

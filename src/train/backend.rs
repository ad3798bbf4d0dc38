//! Which Burn device trains: WGPU where an adapter works, else Burn's pure-Rust CPU backend `flex`.
//! Burn 0.22 dispatches at run time, so the choice is a value, not a type parameter.

use burn::tensor::{Device, Tensor};

/// What the user asked for.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// WGPU when an adapter is usable, else flex.
    #[default]
    Auto,
    Wgpu,
    Flex,
}

/// The device in use and how it was chosen, for logs, the UI and the run record.
#[derive(Clone, Debug)]
pub struct ChosenBackend {
    /// Inference device (no autodiff).
    pub device: Device,
    /// "flex (CPU)" or "wgpu".
    pub name: String,
    /// Why this one (e.g. "no usable WGPU adapter: …").
    pub reason: String,
}

/// Opens the WGPU device through Burn's fallible initialiser (a missing adapter is an error, not a
/// panic), runs one tiny operation to check it, and returns it with the adapter's name and whether
/// it is a physical GPU (software rasterizers such as llvmpipe/lavapipe report none).
fn probe_wgpu() -> Result<(Device, String, bool), String> {
    std::thread::spawn(|| {
        std::panic::catch_unwind(|| {
            let device = Device::wgpu_options().init().map_err(|e| e.to_string())?;
            let sum: f32 = Tensor::<1>::ones([4], &device).sum().into_scalar();
            if sum != 4.0 {
                return Err("the WGPU adapter computed a wrong result".to_string());
            }
            let identity = device.identity();
            let name = identity
                .as_ref()
                .map_or_else(|| "unknown adapter".into(), |i| i.name.to_string());
            let physical = identity.is_some_and(|i| i.physical.is_some());
            Ok((device, name, physical))
        })
        .map_err(|_| "the WGPU runtime panicked while starting".to_string())?
    })
    .join()
    .map_err(|_| "the WGPU probe thread failed".to_string())?
}

/// Chooses the device as `choice` says.
pub fn choose_device(choice: BackendChoice) -> Result<ChosenBackend, String> {
    let flex = |reason: String| ChosenBackend {
        device: Device::flex(),
        name: "flex (CPU)".into(),
        reason,
    };
    match choice {
        BackendChoice::Flex => Ok(flex("asked for flex".into())),
        BackendChoice::Wgpu => probe_wgpu()
            .map(|(device, adapter, _)| ChosenBackend {
                device,
                name: format!("wgpu ({adapter})"),
                reason: "asked for wgpu".into(),
            })
            .map_err(|e| format!("WGPU is not usable here: {e}")),
        BackendChoice::Auto => Ok(match probe_wgpu() {
            Ok((_, adapter, physical)) if !physical || is_software(&adapter) => flex(format!(
                "the only WGPU adapter is a software renderer ({adapter}); flex is faster on the CPU"
            )),
            Ok((device, adapter, _)) => ChosenBackend {
                device,
                name: format!("wgpu ({adapter})"),
                reason: "WGPU adapter found".into(),
            },
            Err(e) => flex(format!(
                "no usable WGPU adapter ({}), using the CPU",
                first_line(&e)
            )),
        }),
    }
}

/// Software Vulkan/GL adapters (Mesa's lavapipe/llvmpipe, SwiftShader) run shaders on the CPU,
/// far slower than flex.
fn is_software(adapter: &str) -> bool {
    let a = adapter.to_ascii_lowercase();
    ["llvmpipe", "lavapipe", "swiftshader", "software"]
        .iter()
        .any(|s| a.contains(s))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

//! Which Burn device trains: WGPU where an adapter works, else Burn's pure-Rust CPU backend `flex`.
//! Burn 0.22 dispatches at run time, so the choice is a value, not a type parameter.

use burn::tensor::{Device, DeviceKind, Tensor};

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

/// Probes WGPU by running one tiny operation; adapter lookup failures surface as panics inside
/// the runtime, so they are caught here and turned into a reason. Returns the device and the
/// adapter's name.
fn probe_wgpu() -> Result<(Device, String), String> {
    std::thread::spawn(|| {
        std::panic::catch_unwind(|| {
            let device = Device::wgpu(DeviceKind::DefaultDevice);
            let t = Tensor::<1>::ones([4], &device);
            let sum: f32 = t.sum().into_scalar();
            if sum != 4.0 {
                return Err("the WGPU adapter computed a wrong result".to_string());
            }
            let name = device
                .identity()
                .map(|i| i.name.to_string())
                .unwrap_or_else(|| "unknown adapter".into());
            Ok((device, name))
        })
        .map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the WGPU runtime failed to start".into())
        })?
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
            .map(|(device, adapter)| ChosenBackend {
                device,
                name: format!("wgpu ({adapter})"),
                reason: "asked for wgpu".into(),
            })
            .map_err(|e| format!("WGPU is not usable here: {e}")),
        BackendChoice::Auto => Ok(match probe_wgpu() {
            Ok((_, adapter)) if is_software(&adapter) => flex(format!(
                "the only WGPU adapter is a software renderer ({adapter}); flex is faster on the CPU"
            )),
            Ok((device, adapter)) => ChosenBackend {
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

//! Which Burn device trains: WGPU where an adapter works, else Burn's pure-Rust CPU backend `flex`.
//! Burn 0.22 dispatches at run time, so the choice is a value, not a type parameter.

use burn::tensor::Device;

/// The Burn features this binary is built with (from `Cargo.toml`, see `build.rs`).
pub const BURN_FEATURES: &str = env!("OCCLAB_BURN_FEATURES");

/// The GPU features among [`BURN_FEATURES`], as `occlab bench` reports them: kernel `fusion`,
/// `autotune` (kernels tuned for the device, results cached by cubecl), `vulkan` (SPIR-V
/// kernels on a Vulkan adapter instead of WGSL).
pub fn gpu_features() -> Vec<&'static str> {
    let mut features: Vec<&'static str> = BURN_FEATURES
        .split(',')
        .filter(|f| matches!(*f, "wgpu" | "vulkan" | "fusion" | "autotune"))
        .collect();
    // occlab's own features turn on Burn's (see Cargo.toml).
    for (on, burn) in [
        (cfg!(feature = "spirv"), "vulkan"),
        (cfg!(feature = "gpu-fusion"), "fusion"),
        (cfg!(feature = "gpu-fusion"), "autotune"),
    ] {
        if on && !features.contains(&burn) {
            features.push(burn);
        }
    }
    features
}

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
    /// "flex (CPU)" or "wgpu (<adapter> · <API> · <kind>)".
    pub name: String,
    /// Why this one (e.g. "no usable WGPU adapter: …").
    pub reason: String,
    /// The WGPU adapter in use (none on flex).
    pub adapter: Option<AdapterInfo>,
}

/// What kind of device a WGPU adapter is (wgpu's `DeviceType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    DiscreteGpu,
    IntegratedGpu,
    VirtualGpu,
    /// Shaders run on the CPU (Mesa's lavapipe/llvmpipe, SwiftShader).
    Cpu,
    Other,
}

impl AdapterKind {
    fn label(self) -> &'static str {
        match self {
            AdapterKind::DiscreteGpu => "discrete GPU",
            AdapterKind::IntegratedGpu => "integrated GPU",
            AdapterKind::VirtualGpu => "virtual GPU",
            AdapterKind::Cpu => "CPU",
            AdapterKind::Other => "other",
        }
    }
}

/// A WGPU adapter as wgpu describes it (`AdapterInfo`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdapterInfo {
    /// e.g. "NVIDIA H200", "llvmpipe (LLVM 15.0.7, 256 bits)".
    pub name: String,
    pub kind: AdapterKind,
    /// Graphics API: "Vulkan", "Metal", "Dx12", "Gl".
    pub api: String,
    /// Driver name and version text, e.g. "llvmpipe" and "Mesa 23.2.1 (LLVM 15.0.7)".
    pub driver: String,
    pub driver_info: String,
    /// Storage buffers one kernel may bind (the device's limit, once opened): Burn's fusion
    /// puts at most this many tensors, less one, into one fused kernel, so a low limit (8 on some
    /// drivers) splits fused kernels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffers_per_kernel: Option<u32>,
}

impl AdapterInfo {
    /// Whether the adapter runs its shaders on the CPU (a software renderer).
    pub fn is_software(&self) -> bool {
        self.kind == AdapterKind::Cpu || is_software(&self.name) || is_software(&self.driver)
    }

    /// "NVIDIA H200 · Vulkan · discrete GPU", "llvmpipe (LLVM 15.0.7, 256 bits) · Vulkan · CPU".
    pub fn describe(&self) -> String {
        let kind = if self.kind != AdapterKind::Cpu && self.is_software() {
            "software (CPU)"
        } else {
            self.kind.label()
        };
        format!("{} · {} · {kind}", self.name, self.api)
    }

    /// The driver and its version text, e.g. "llvmpipe, Mesa 23.2.1 (LLVM 15.0.7)".
    pub fn driver_text(&self) -> String {
        match (self.driver.is_empty(), self.driver_info.is_empty()) {
            (true, true) => "driver not reported".into(),
            (false, true) => self.driver.clone(),
            (true, false) => self.driver_info.clone(),
            (false, false) => format!("{}, {}", self.driver, self.driver_info),
        }
    }

    /// Preference for training, lower first: a discrete GPU, then an integrated one, a virtual
    /// one, anything else, and a software renderer last.
    fn rank(&self) -> u8 {
        if self.is_software() {
            return 4;
        }
        match self.kind {
            AdapterKind::DiscreteGpu => 0,
            AdapterKind::IntegratedGpu => 1,
            AdapterKind::VirtualGpu => 2,
            AdapterKind::Other => 3,
            AdapterKind::Cpu => 4,
        }
    }
}

/// The adapter to train on among `adapters` (in the order the graphics APIs list them): the
/// best kind ([`AdapterInfo`]'s rank: discrete, integrated, virtual, other, software), the first
/// listed among equals. `None` when there is none.
pub fn preferred_adapter(adapters: &[AdapterInfo]) -> Option<usize> {
    (0..adapters.len()).min_by_key(|&i| (adapters[i].rank(), i))
}

/// The adapter `CUBECL_WGPU_DEFAULT_DEVICE` names, as `DiscreteGpu(i)`, `IntegratedGpu(i)` or
/// `VirtualGpu(i)` (cubecl's spelling; `occlab sweep --workers` gives each worker its own GPU
/// this way): the i-th adapter of that kind in `adapters` (in the order the graphics APIs list
/// them). `None` when the variable names nothing of this form.
pub fn named_adapter(adapters: &[AdapterInfo], wanted: &str) -> Option<usize> {
    let (kind, rest) = wanted.trim().split_once('(')?;
    let index: usize = rest.strip_suffix(')')?.trim().parse().ok()?;
    let kind = match kind.trim() {
        "DiscreteGpu" => AdapterKind::DiscreteGpu,
        "IntegratedGpu" => AdapterKind::IntegratedGpu,
        "VirtualGpu" => AdapterKind::VirtualGpu,
        _ => return None,
    };
    (0..adapters.len())
        .filter(|&i| adapters[i].kind == kind)
        .nth(index)
}

/// What the automatic choice does with the adapter WGPU would use: train on it, unless it is a
/// software renderer (shaders on the CPU are far slower than flex).
pub fn auto_uses_wgpu(adapter: &AdapterInfo) -> bool {
    !adapter.is_software()
}

mod probe {
    //! Lists the adapters through wgpu and opens the preferred one through Burn, once per
    //! process: Burn's WGPU runtime registers a device once, and a second registration fails.

    use super::{AdapterInfo, AdapterKind, named_adapter, preferred_adapter};
    use burn::tensor::wgpu::{WgpuBackend, wgpu};
    use burn::tensor::{Device, DeviceKind, Tensor};
    use std::sync::OnceLock;

    pub(super) type Probed = Result<(Device, AdapterInfo), String>;

    static PROBED: OnceLock<Probed> = OnceLock::new();

    /// The WGPU device on the preferred adapter, with its description (or why there is none).
    pub(super) fn wgpu() -> Probed {
        PROBED
            .get_or_init(|| {
                // On a thread of its own: a panic inside the runtime must not take the caller.
                std::thread::spawn(|| {
                    std::panic::catch_unwind(open)
                        .map_err(|_| "the WGPU runtime panicked while starting".to_string())?
                })
                .join()
                .map_err(|_| "the WGPU probe thread failed".to_string())?
            })
            .clone()
    }

    fn info(a: &wgpu::AdapterInfo) -> AdapterInfo {
        AdapterInfo {
            name: a.name.clone(),
            kind: match a.device_type {
                wgpu::DeviceType::DiscreteGpu => AdapterKind::DiscreteGpu,
                wgpu::DeviceType::IntegratedGpu => AdapterKind::IntegratedGpu,
                wgpu::DeviceType::VirtualGpu => AdapterKind::VirtualGpu,
                wgpu::DeviceType::Cpu => AdapterKind::Cpu,
                wgpu::DeviceType::Other => AdapterKind::Other,
            },
            api: format!("{:?}", a.backend),
            driver: a.driver.clone(),
            driver_info: a.driver_info.clone(),
            buffers_per_kernel: None,
        }
    }

    /// Every adapter of the native graphics APIs (Vulkan, Metal, DX12); OpenGL's only where
    /// those have none (asking EGL prints noise on a headless machine).
    fn list() -> Vec<wgpu::AdapterInfo> {
        let mut all = Vec::new();
        for backends in [wgpu::Backends::PRIMARY, wgpu::Backends::GL] {
            let backends = backends & wgpu::Instance::enabled_backend_features();
            if backends.is_empty() || !all.is_empty() {
                continue;
            }
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends,
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            });
            all.extend(
                block_on(instance.enumerate_adapters(backends))
                    .iter()
                    .map(wgpu::Adapter::get_info),
            );
        }
        all
    }

    fn open() -> Probed {
        let listed = list();
        let infos: Vec<AdapterInfo> = listed.iter().map(info).collect();
        // A sweep's worker is given its GPU by name; otherwise the best kind.
        let named = std::env::var("CUBECL_WGPU_DEFAULT_DEVICE").ok();
        let best = match named.as_deref().map(|n| (n, named_adapter(&infos, n))) {
            Some((_, Some(i))) => i,
            Some((n, None)) if n.contains('(') => {
                return Err(format!(
                    "CUBECL_WGPU_DEFAULT_DEVICE={n} names no adapter here (adapters: {})",
                    infos
                        .iter()
                        .map(AdapterInfo::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
            _ => preferred_adapter(&infos).ok_or_else(|| {
                "no WGPU adapter found (no Vulkan, Metal, DX12 or OpenGL driver)".to_string()
            })?,
        };
        let chosen = &listed[best];
        // Burn addresses an adapter by kind and index among that API's adapters of that kind.
        let index = listed[..best]
            .iter()
            .filter(|a| a.backend == chosen.backend && a.device_type == chosen.device_type)
            .count();
        let kind = match chosen.device_type {
            wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(index),
            wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(index),
            wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(index),
            wgpu::DeviceType::Cpu => DeviceKind::Cpu,
            wgpu::DeviceType::Other => DeviceKind::DefaultDevice,
        };
        let api = match chosen.backend {
            wgpu::Backend::Vulkan => WgpuBackend::Vulkan,
            wgpu::Backend::Metal => WgpuBackend::Metal,
            wgpu::Backend::Dx12 => WgpuBackend::Dx12,
            wgpu::Backend::Gl => WgpuBackend::Gl,
            _ => WgpuBackend::Auto,
        };
        // Before the runtime reads its configuration: where autotune keeps its results.
        crate::train::gpu_cache::configure();
        let (device, setup) = Device::wgpu_options()
            .device_kind(kind)
            .graphics_api(api)
            .init_with_setup()
            .map_err(|e| format!("{} would not open: {e}", infos[best].describe()))?;
        let sum: f32 = Tensor::<1>::ones([4], &device).sum().into_scalar();
        if sum != 4.0 {
            return Err("the WGPU adapter computed a wrong result".to_string());
        }
        let opened = AdapterInfo {
            buffers_per_kernel: Some(setup.device.limits().max_storage_buffers_per_shader_stage),
            ..info(&setup.adapter.get_info())
        };
        Ok((device, opened))
    }

    /// Runs a future that needs no executor (wgpu's native calls are ready at once) to its end.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Wake, Waker};
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(out) => return out,
                Poll::Pending => std::thread::park(),
            }
        }
    }
}

/// Chooses the device as `choice` says. WGPU opens the preferred adapter ([`preferred_adapter`]),
/// once per process; later calls get the same device.
pub fn choose_device(choice: BackendChoice) -> Result<ChosenBackend, String> {
    let flex = |reason: String| ChosenBackend {
        device: Device::flex(),
        name: "flex (CPU)".into(),
        reason,
        adapter: None,
    };
    let wgpu = |device: Device, adapter: AdapterInfo, reason: &str| ChosenBackend {
        device,
        name: format!("wgpu ({})", adapter.describe()),
        reason: format!("{reason}; driver {}", adapter.driver_text()),
        adapter: Some(adapter),
    };
    match choice {
        BackendChoice::Flex => Ok(flex("asked for flex".into())),
        BackendChoice::Wgpu => probe::wgpu()
            .map(|(device, adapter)| wgpu(device, adapter, "asked for wgpu"))
            .map_err(|e| format!("WGPU is not usable here: {e}")),
        BackendChoice::Auto => Ok(match probe::wgpu() {
            Ok((_, adapter)) if !auto_uses_wgpu(&adapter) => flex(format!(
                "the only WGPU adapter is a software renderer ({}); flex is faster on the CPU",
                adapter.describe()
            )),
            Ok((device, adapter)) => wgpu(device, adapter, "WGPU adapter found"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary says which GPU features it has: WGPU always; SPIR-V kernels with
    /// `--features spirv`, kernel fusion and autotuning with `--features gpu-fusion` (issue 14).
    #[test]
    fn the_gpu_features_are_those_cargo_toml_turns_on() {
        let manifest = include_str!("../../Cargo.toml");
        let line = manifest
            .lines()
            .find(|l| l.starts_with("burn = {"))
            .expect("the burn dependency line");
        assert!(line.contains("\"wgpu\""), "{line}");
        let mut want = vec!["wgpu"];
        if cfg!(feature = "spirv") {
            want.push("vulkan");
        }
        if cfg!(feature = "gpu-fusion") {
            want.extend(["fusion", "autotune"]);
        }
        assert_eq!(gpu_features(), want);
    }

    fn adapter(name: &str, kind: AdapterKind) -> AdapterInfo {
        AdapterInfo {
            name: name.into(),
            kind,
            api: "Vulkan".into(),
            driver: String::new(),
            driver_info: String::new(),
            buffers_per_kernel: None,
        }
    }

    #[test]
    fn a_discrete_gpu_is_preferred_over_integrated_and_software_ones() {
        let llvmpipe = adapter("llvmpipe (LLVM 15.0.7, 256 bits)", AdapterKind::Cpu);
        let intel = adapter("Intel(R) UHD Graphics 770", AdapterKind::IntegratedGpu);
        let nvidia = adapter("NVIDIA H200", AdapterKind::DiscreteGpu);
        let list = [llvmpipe.clone(), intel.clone(), nvidia.clone()];
        assert_eq!(preferred_adapter(&list), Some(2));
        assert_eq!(
            preferred_adapter(&[llvmpipe.clone(), intel.clone()]),
            Some(1)
        );
        assert_eq!(preferred_adapter(&[intel.clone(), nvidia.clone()]), Some(1));
        assert_eq!(preferred_adapter(std::slice::from_ref(&llvmpipe)), Some(0));
        assert_eq!(preferred_adapter(&[]), None);
        // Equals: the first listed.
        let second = adapter("NVIDIA H100", AdapterKind::DiscreteGpu);
        assert_eq!(preferred_adapter(&[nvidia, second]), Some(0));
        // A software renderer that calls itself something else still comes last.
        let disguised = adapter("SwiftShader Device", AdapterKind::IntegratedGpu);
        assert_eq!(preferred_adapter(&[disguised, intel]), Some(1));
    }

    /// `occlab sweep --workers 4` on a four-GPU machine sets `DiscreteGpu(0)` … `DiscreteGpu(3)`:
    /// each names its own adapter, whatever else is listed before it.
    #[test]
    fn a_sweep_worker_gets_the_gpu_its_variable_names() {
        let llvmpipe = adapter("llvmpipe (LLVM 15.0.7, 256 bits)", AdapterKind::Cpu);
        let a = adapter("NVIDIA H200", AdapterKind::DiscreteGpu);
        let intel = adapter("Intel(R) UHD Graphics 770", AdapterKind::IntegratedGpu);
        let b = adapter("NVIDIA H200", AdapterKind::DiscreteGpu);
        let list = [llvmpipe, a, intel, b];
        assert_eq!(named_adapter(&list, "DiscreteGpu(0)"), Some(1));
        assert_eq!(named_adapter(&list, " DiscreteGpu( 1 ) "), Some(3));
        assert_eq!(named_adapter(&list, "IntegratedGpu(0)"), Some(2));
        assert_eq!(named_adapter(&list, "DiscreteGpu(2)"), None);
        assert_eq!(named_adapter(&list, "Cpu"), None);
        assert_eq!(named_adapter(&list, "DiscreteGpu(x)"), None);
    }

    #[test]
    fn auto_trains_on_a_gpu_but_not_on_a_software_renderer() {
        assert!(auto_uses_wgpu(&adapter(
            "NVIDIA H200",
            AdapterKind::DiscreteGpu
        )));
        assert!(auto_uses_wgpu(&adapter(
            "AMD Radeon 780M",
            AdapterKind::IntegratedGpu
        )));
        assert!(!auto_uses_wgpu(&adapter(
            "llvmpipe (LLVM 15)",
            AdapterKind::Cpu
        )));
        assert!(!auto_uses_wgpu(&adapter("lavapipe", AdapterKind::Other)));
    }

    #[test]
    fn the_adapter_is_described_with_its_api_kind_and_driver() {
        let mut a = adapter("llvmpipe (LLVM 15.0.7, 256 bits)", AdapterKind::Cpu);
        assert_eq!(
            a.describe(),
            "llvmpipe (LLVM 15.0.7, 256 bits) · Vulkan · CPU"
        );
        assert_eq!(a.driver_text(), "driver not reported");
        a.driver = "llvmpipe".into();
        a.driver_info = "Mesa 23.2.1 (LLVM 15.0.7)".into();
        assert_eq!(a.driver_text(), "llvmpipe, Mesa 23.2.1 (LLVM 15.0.7)");
        let gpu = adapter("NVIDIA H200", AdapterKind::DiscreteGpu);
        assert_eq!(gpu.describe(), "NVIDIA H200 · Vulkan · discrete GPU");
    }
}

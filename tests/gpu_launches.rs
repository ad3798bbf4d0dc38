//! `occlab bench train --backend wgpu` counts the GPU kernels a training step launches (issue 14),
//! through cubecl's launch observer. The observer sees every launch of the process, so this file
//! holds one test: a test binary of its own runs nothing else on the GPU beside it.
//!
//! Without a GPU, WGPU runs on Mesa's lavapipe (`mesa-vulkan-drivers`, which `.ci/run` installs).
//! No usable adapter is a failure that says why, never a silent pass.

use burn::tensor::Device;
use occlab::bench::{Figure, train_step};
use occlab::model::{ModelKind, Precision};
use occlab::train::{BackendChoice, choose_device};

/// The figure of the steps run back to back, where the launches are counted.
fn back_to_back(device: &Device, steps: usize, gpu: bool) -> Figure {
    let figures = train_step(ModelKind::Cnn, device, (2, 5), steps, gpu, Precision::F32).unwrap();
    figures
        .into_iter()
        .find(|f| f.name.contains("back to back"))
        .expect("the back-to-back figure")
}

#[test]
fn a_wgpu_training_step_launches_the_same_kernels_every_step_and_the_cpu_none() {
    let chosen = choose_device(BackendChoice::Wgpu).unwrap_or_else(|e| {
        panic!(
            "no usable WGPU adapter to count launches on: {e}\n\
             (without a GPU, install Mesa's lavapipe: apt-get install mesa-vulkan-drivers libvulkan1)"
        )
    });
    eprintln!("{}", chosen.name);

    let two = back_to_back(&chosen.device, 2, true);
    let three = back_to_back(&chosen.device, 3, true);
    let per_step = two
        .launches_per_step
        .expect("the kernels of a WGPU step are counted");
    eprintln!("CNN 2×5 on {}: {per_step} launches per step", chosen.name);
    for (name, n) in &two.top_kernels {
        eprintln!("  {n:6.1}  {name}");
    }
    // Forward, backward and Adam over the CNN's 10 parameter tensors: dozens of kernels at the
    // least, whatever fuses.
    assert!(per_step >= 20.0, "only {per_step} launches per step");
    assert_eq!(
        three.launches_per_step,
        Some(per_step),
        "a step launches as many kernels as the one before"
    );
    let named: f64 = two.top_kernels.iter().map(|(_, n)| n).sum();
    assert!(
        named > 0.0 && named <= per_step + 1e-9,
        "the most launched kernels ({named} per step) are part of the {per_step}"
    );
    assert!(two.top_kernels.len() <= 12);
    assert!(
        two.top_kernels.windows(2).all(|w| w[0].1 >= w[1].1),
        "most launched first: {:?}",
        two.top_kernels
    );

    // `bench ops`: each part's kernels counted; the LSTM's time loop written out as one autodiff
    // step (what training runs) launches fewer kernels than Burn's autodiff of the same loop.
    let parts = occlab::bench::crnn_parts(&chosen.device, 1, 1, Precision::F32).unwrap();
    let launches = |part: &str| {
        let figure = parts
            .iter()
            .find(|f| f.name.trim().starts_with(part))
            .unwrap_or_else(|| panic!("no figure for {part}"));
        eprintln!(
            "{}: {:?} launches",
            figure.name.trim(),
            figure.launches_per_step
        );
        figure.launches_per_step.expect("launches counted on WGPU")
    };
    let written_out = launches("LSTM loop, written out");
    let burn_autodiff = launches("LSTM loop, Burn's autodiff");
    assert!(
        written_out < burn_autodiff,
        "the written-out loop launches {written_out} kernels, Burn's autodiff of it {burn_autodiff}"
    );
    assert!(launches("CNN unit") >= 5.0);

    let on_cpu = back_to_back(&Device::flex(), 1, false);
    assert_eq!(
        on_cpu.launches_per_step, None,
        "flex launches no GPU kernels"
    );
    assert!(on_cpu.top_kernels.is_empty());
}

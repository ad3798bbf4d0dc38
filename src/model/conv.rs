//! 2-D convolution with faster training on Burn's CPU backend (`flex`).
//!
//! Why: flex computes a convolution's weight gradient generically (a convolution with batch and
//! channels swapped), at a quarter of its forward rate; in a CRNN train step conv2's weight
//! gradient alone took 17 % of the time (docs/PERFORMANCE.md). The cure is im2col: gather every
//! output pixel's patch into a matrix, and the convolution and both of its gradients become
//! large matrix products:
//!
//! ```text
//! im2col          cols [n, h'·w', k·k·c_in] = select(x as NHWC rows, patch index)  (a gather)
//! forward         y    [n, c_out, h'·w']    = W [c_out, k·k·c_in] × colsᵀ + bias
//! weight gradient dW   [c_out, k·k·c_in]    = Σ_n dy_n × cols_n
//! input gradient  dcols                     = dy × W,  dx = scatter-add of dcols   (gemm + select_add)
//! ```
//!
//! Out-of-image taps of the zero padding point at one all-zero image appended to the batch, so
//! padding costs no extra pass. Which of these pieces pays off depends on the layer; measured in
//! one process (`examples/speed_ab.rs`), [`ConvPath::choose`] picks per layer:
//! - [`ConvPath::FlexWeightGemm`] / [`ConvPath::FlexGemm`]: a custom autodiff step on
//!   `Autodiff<Flex>` (Burn's extension points: `Tensor::try_into_primitive` and
//!   `burn_autodiff`'s `Backward`), with Burn's own input gradient, the weight gradient by
//!   im2col + one batched product, and the forward pass either Burn's (`FlexWeightGemm`) or the
//!   im2col product, whose matrix the backward pass then reuses (`FlexGemm`);
//! - [`ConvPath::Im2col`]: only tensor operations whose own backward passes are cheap, so
//!   autodiff derives the gradients (works on every backend).
//!
//! On other backends (WGPU) Burn's own `conv2d` is used: it is faster there and an im2col matrix
//! would cost GPU memory. Every path computes the same function with the same parameters,
//! `weight` `[c_out, c_in, k, k]` and `bias` `[c_out]`, under the names of
//! `burn::nn::conv::Conv2d`, so checkpoints move between backends and checkpoints saved with
//! Burn's `Conv2d` load.
//!
//! Over 600 lines, 220 of them tests against Burn's conv2d: one operation (im2col + GEMM forward
//! and backward, the path choice).

use burn::backend::DispatchDevice;
use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::precision::{self, Precision};

/// How [`Conv2d::forward`] computes the convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPath {
    /// Burn's `conv2d`, with Burn's backward pass (every backend but flex).
    Native,
    /// Burn's `conv2d` forward and input gradient, but the weight gradient as im2col + one
    /// batched matrix product (flex). Burn's own weight gradient on flex is its slowest
    /// convolution operation. Kept for comparison (`examples/step_ops.rs`).
    FlexWeightGemm,
    /// Like `FlexWeightGemm`, but the forward pass too is im2col + one matrix product (pixels
    /// as rows), and the backward pass reuses that im2col matrix for the weight gradient
    /// (flex). The default for stride-1 layers on flex.
    FlexGemm,
    /// Everything from tensor operations: im2col by a gather, one matrix product; the backward
    /// pass is what autodiff derives (two matrix products and a scatter-add). Measured slower
    /// than `FlexWeightGemm` on flex for 32 → 64 channels at 28×28 (docs/PERFORMANCE.md), kept
    /// for comparison, and used on flex only: on WGPU (lavapipe, 2026-12-05) its input gradient
    /// came out 27 % off in relative norm against Burn's `conv2d`, because Burn 0.22.1's
    /// `select` backward there (`select_assign` with addition) sums wrongly: rows `[7840, 32]`
    /// selected by 70,560 indices got 124,007 of 250,880 gradient entries wrong (integer sums,
    /// flex exact), where 4 × 8 rows and 20,000 indices came out right. [`ConvPath::Shifted`]
    /// builds the same patches without a gather, and matches.
    Im2col,
    /// im2col without a gather: the padded input's k·k shifted views (channels last) side by
    /// side, one matrix product; the backward pass is autodiff's (two products, slices). Stride
    /// 1 only (a strided layer takes `Native`). Mixed precision's convolution
    /// (`Conv2d::with_precision`), with f16 operands; in f32 a candidate for a GPU, where Burn's
    /// autotuned convolutions ran at about 3 TFLOP/s on an H200 (`occlab bench ops` times both).
    Shifted,
}

impl ConvPath {
    /// The faster path for a layer with `stride` on `device` (whatever its channels), as
    /// measured on flex in one process (`examples/speed_ab.rs`, docs/PERFORMANCE.md): Burn's own
    /// convolution off flex; on flex, for fwd + bwd against Burn's convolution,
    /// - stride 1 (conv1 and conv2 of CNN and CRNN): `FlexGemm`, 0.4× on 1 or 3 input channels;
    ///   on conv2 (32 → 64 at 28×28), since im2col became one pass of occlab's own kernel,
    ///   `FlexGemm` makes a whole CRNN train step 3–4 % faster than `FlexWeightGemm` and a CNN
    ///   step 5–10 % (`occlab bench train`, A/B of two builds; docs/PERFORMANCE.md);
    /// - stride 2 (the `-S` models' layers): `Im2col`, 0.5–0.75× (`FlexWeightGemm` 0.8–0.95×),
    ///   where Burn's input gradient (a strided transposed convolution) is slow.
    pub fn choose(device: &Device, stride: [usize; 2]) -> Self {
        match device.clone().without_autodiff().as_dispatch() {
            DispatchDevice::Flex(_) if stride != [1, 1] => ConvPath::Im2col,
            DispatchDevice::Flex(_) => ConvPath::FlexGemm,
            _ => ConvPath::Native,
        }
    }
}

/// Configuration of a [`Conv2d`]: the subset of `burn::nn::conv::Conv2dConfig` occlab's models
/// use (dilation 1, one group, bias).
#[derive(Clone, Debug)]
pub struct Conv2dSpec {
    /// `[c_in, c_out]`.
    pub channels: [usize; 2],
    /// `[k_h, k_w]`.
    pub kernel_size: [usize; 2],
    /// `[s_h, s_w]`.
    pub stride: [usize; 2],
    /// Zero padding; `Same` is Keras' (output `ceil(n / s)`, the odd pixel at the bottom/right).
    pub padding: PaddingConfig2d,
}

impl Conv2dSpec {
    /// A `c_in → c_out` convolution with a `k × k` kernel, stride 1, no padding.
    pub fn new(channels: [usize; 2], kernel_size: [usize; 2]) -> Self {
        Self {
            channels,
            kernel_size,
            stride: [1, 1],
            padding: PaddingConfig2d::Valid,
        }
    }

    /// With stride `[s_h, s_w]`.
    pub fn with_stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }

    /// With the given zero padding.
    pub fn with_padding(mut self, padding: PaddingConfig2d) -> Self {
        self.padding = padding;
        self
    }

    /// Builds the layer on `device`. The weights are drawn exactly as `burn::nn::conv::Conv2d`
    /// draws them (Burn's own initialiser, same order), so a seeded model starts from the same
    /// numbers whichever convolution runs it.
    pub fn init(&self, device: &Device) -> Conv2d {
        let burn_conv = Conv2dConfig::new(self.channels, self.kernel_size)
            .with_stride(self.stride)
            .with_padding(self.padding.clone())
            .init(device);
        Conv2d {
            weight: burn_conv.weight,
            bias: burn_conv.bias,
            stride: self.stride,
            kernel_size: self.kernel_size,
            padding: self.padding.clone(),
            precision: Precision::F32,
        }
    }
}

/// A 2-D convolution layer (see the module documentation).
#[derive(Module, Debug)]
pub struct Conv2d {
    /// `[c_out, c_in, k_h, k_w]`, as in `burn::nn::conv::Conv2d`.
    pub weight: Param<Tensor<4>>,
    /// `[c_out]`.
    pub bias: Option<Param<Tensor<1>>>,
    stride: [usize; 2],
    kernel_size: [usize; 2],
    #[module(skip)]
    padding: PaddingConfig2d,
    /// f32, or f16 operands on a GPU ([`Precision`]); set by [`Conv2d::with_precision`], not
    /// stored in checkpoints.
    #[module(skip)]
    precision: Precision,
}

/// Geometry of one convolution call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    batch: usize,
    in_size: [usize; 2],
    out_size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    /// Padding before the first row / column (top, left).
    pad_start: [usize; 2],
}

/// `(before, after)` zero padding of one dimension, as `burn::nn` computes it.
fn padding_pair(
    padding: &PaddingConfig2d,
    axis: usize,
    size: usize,
    k: usize,
    s: usize,
) -> [usize; 2] {
    match padding {
        PaddingConfig2d::Valid => [0, 0],
        PaddingConfig2d::Same => {
            let out = size.div_ceil(s);
            let total = if out > 0 {
                ((out - 1) * s + k).saturating_sub(size)
            } else {
                0
            };
            [total / 2, total - total / 2]
        }
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            if axis == 0 {
                [*top, *bottom]
            } else {
                [*left, *right]
            }
        }
    }
}

impl Conv2d {
    /// The layer computing in `precision` (mixed: f16 operands, off flex only; see
    /// [`super::precision`]).
    ///
    /// In mixed precision the convolution is im2col and one matrix product with f16 operands
    /// that accumulates in f32 (cubek's matmul keeps f32 accumulators for f16 results), not
    /// Burn's f16 `conv2d`: without autotune Burn runs its direct kernel, which accumulates in
    /// f16 (measured on lavapipe, conv 32 → 64 over 10 images: weight gradient 1.3e-2 off in
    /// relative norm, the same product as a matmul 3.6e-4), and with autotune the kernel, and so
    /// the accuracy, would depend on which one wins the timing. The patches are the padded
    /// input's k·k shifted views side by side (a concatenation: its backward pass is slices, no
    /// scatter), in f16: `n·h'·w' × k·k·c_in` halves (conv2 at 256 × 5 images: 0.6 GB). A layer
    /// whose product is too thin for tensor cores (`k·k·c_in` < 64: conv1 on one or three
    /// channels, about 1 % of a step's FLOP) or strided (the `-S` models) stays f32.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Whether this layer runs [`Self::forward_shifted`] in mixed precision: stride 1 and an
    /// im2col product deep enough (`k·k·c_in` ≥ 64) for f16 to pay.
    fn mixed_pays(&self) -> bool {
        let [_, c_in, kh, kw] = self.weight.dims();
        self.stride == [1, 1] && kh * kw * c_in >= 64
    }

    /// [`ConvPath::Shifted`] (stride 1): the patches as the padded input's shifted views
    /// concatenated channels-last (taps in (ky, kx, c) order), times the weights
    /// `[k·k·c_in, c_out]`, bias added in f32. In mixed precision the input is cast to f16
    /// before it is shifted and the product takes f16 operands (f32 result).
    fn forward_shifted(&self, input: Tensor<4>) -> Tensor<4> {
        use burn::tensor::ops::PadMode;
        let [n, c_in, h, w] = input.dims();
        let [c_out, _, kh, kw] = self.weight.dims();
        let [oh, ow] = self.geometry(n, [h, w]).out_size;
        let [[top, bottom], [left, right]] = self.pads([h, w]);
        let nhwc = input.permute([0, 2, 3, 1]); // [n, h, w, c_in] (a view)
        // In mixed precision shifted in f16 (half the bytes); the product then casts nothing.
        let nhwc = if self.precision.is_mixed() {
            precision::half(nhwc)
        } else {
            nhwc
        };
        // [n, h + pads, w + pads, c_in]
        let padded = nhwc.pad(
            [(top, bottom), (left, right), (0, 0)],
            PadMode::Constant(0.0),
        );
        let taps: Vec<Tensor<4>> = (0..kh)
            .flat_map(|ky| (0..kw).map(move |kx| (ky, kx)))
            .map(|(ky, kx)| {
                padded
                    .clone()
                    .slice([0..n, ky..ky + oh, kx..kx + ow, 0..c_in])
            })
            .collect();
        let cols = Tensor::cat(taps, 3).reshape([n * oh * ow, kh * kw * c_in]);
        let weight = self
            .weight
            .val()
            .permute([2, 3, 1, 0])
            .reshape([kh * kw * c_in, c_out]); // [ky, kx, c_in → c_out]
        let y = precision::matmul(cols, weight, self.precision); // [n·h'·w', c_out]
        let y = match &self.bias {
            Some(bias) => y + bias.val().unsqueeze::<2>(),
            None => y,
        };
        y.reshape([n, oh, ow, c_out]).permute([0, 3, 1, 2]) // [n, c_out, h', w'] (a view)
    }

    /// Output `[height, width]` for an input of `height × width`.
    pub fn output_size(&self, height: usize, width: usize) -> [usize; 2] {
        let g = self.geometry(1, [height, width]);
        g.out_size
    }

    fn pads(&self, in_size: [usize; 2]) -> [[usize; 2]; 2] {
        [0, 1].map(|axis| {
            padding_pair(
                &self.padding,
                axis,
                in_size[axis],
                self.kernel_size[axis],
                self.stride[axis],
            )
        })
    }

    fn geometry(&self, batch: usize, in_size: [usize; 2]) -> Geometry {
        let pads = self.pads(in_size);
        let out_size = [0, 1].map(|a| {
            let padded = in_size[a] + pads[a][0] + pads[a][1];
            if padded < self.kernel_size[a] {
                0
            } else {
                (padded - self.kernel_size[a]) / self.stride[a] + 1
            }
        });
        Geometry {
            batch,
            in_size,
            out_size,
            kernel: self.kernel_size,
            stride: self.stride,
            pad_start: [pads[0][0], pads[1][0]],
        }
    }

    /// Convolves a batch of images.
    ///
    /// # Shapes
    /// - `input`: `[n, c_in, h, w]`
    /// - output: `[n, c_out, h', w']`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let path = if self.precision.is_mixed() && self.mixed_pays() {
            ConvPath::Shifted
        } else {
            ConvPath::choose(&input.device(), self.stride)
        };
        self.forward_with(input, path)
    }

    /// [`forward`](Self::forward) on the given path (tests and benchmarks compare the two).
    pub fn forward_with(&self, input: Tensor<4>, path: ConvPath) -> Tensor<4> {
        match path {
            ConvPath::Native => self.forward_native(input),
            ConvPath::Im2col => self.forward_im2col(input),
            ConvPath::Shifted if self.stride == [1, 1] => self.forward_shifted(input),
            ConvPath::Shifted => self.forward_native(input),
            ConvPath::FlexWeightGemm | ConvPath::FlexGemm => {
                let [n, _, h, w] = input.dims();
                match &self.bias {
                    Some(bias) => flex_weight_gemm::conv2d(
                        &input,
                        self.weight.val(),
                        bias.val(),
                        self.options([h, w]),
                        self.geometry(n, [h, w]),
                        path == ConvPath::FlexGemm,
                    )
                    .unwrap_or_else(|| self.forward_native(input)),
                    None => self.forward_native(input),
                }
            }
        }
    }

    fn options(&self, in_size: [usize; 2]) -> ConvOptions<2> {
        let [[top, bottom], [left, right]] = self.pads(in_size);
        ConvOptions::new_with_padding(self.stride, [(top, bottom), (left, right)], [1, 1], 1)
    }

    fn forward_native(&self, input: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = input.dims();
        let options = self.options([h, w]);
        conv2d(
            input,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
            options,
        )
    }

    fn forward_im2col(&self, input: Tensor<4>) -> Tensor<4> {
        let [n, c_in, h, w] = input.dims();
        let [c_out, _, kh, kw] = self.weight.dims();
        let g = self.geometry(n, [h, w]);
        let [oh, ow] = g.out_size;
        let device = input.device();
        // Channels-last rows, with one all-zero image after the batch for the padding taps.
        let nhwc = input.permute([0, 2, 3, 1]); // [n, h, w, c_in] (a view)
        let zero_image = Tensor::<4>::zeros([1, h, w, c_in], &device);
        let rows = Tensor::cat(vec![nhwc, zero_image], 0).reshape([(n + 1) * h * w, c_in]);
        let index = Tensor::<1, Int>::from_data(
            TensorData::new(patch_index(&g), [n * oh * ow * kh * kw]),
            &device,
        );
        // [n·h'·w'·k_h·k_w, c_in] → one patch per row, taps in (ky, kx, c) order.
        let cols = rows.select(0, index).reshape([n * oh * ow, kh * kw * c_in]);
        // weight [c_out, c_in, ky, kx] → [ky, kx, c_in, c_out] → [k·k·c_in, c_out]
        let weight = self
            .weight
            .val()
            .permute([2, 3, 1, 0])
            .reshape([kh * kw * c_in, c_out]);
        let y = cols.matmul(weight); // [n·h'·w', c_out]
        let y = match &self.bias {
            Some(bias) => y + bias.val().unsqueeze::<2>(), // + [1, c_out]
            None => y,
        };
        y.reshape([n, oh, ow, c_out]).permute([0, 3, 1, 2]) // [n, c_out, h', w'] (a view)
    }
}

/// For every output pixel (row-major over batch, y, x) and every kernel tap (ky, kx), the row of
/// the input rows `[(n + 1)·h·w, c]` it reads: the pixel's row, or the zero image's first row for
/// a tap that falls into the padding.
fn patch_index(g: &Geometry) -> Vec<i64> {
    let [h, w] = g.in_size;
    let [oh, ow] = g.out_size;
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let [ph, pw] = g.pad_start;
    let zero_row = (g.batch * h * w) as i64;
    // Column offsets for each (ox, kx) are the same for every row: compute them once.
    let columns: Vec<Option<usize>> = (0..ow)
        .flat_map(|ox| (0..kw).map(move |kx| (ox * sw + kx).checked_sub(pw).filter(|&x| x < w)))
        .collect();
    let mut index = Vec::with_capacity(g.batch * oh * ow * kh * kw);
    for b in 0..g.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..kh {
                    let iy = (oy * sh + ky).checked_sub(ph).filter(|&y| y < h);
                    for kx in 0..kw {
                        index.push(match (iy, columns[ox * kw + kx]) {
                            (Some(y), Some(x)) => ((b * h + y) * w + x) as i64,
                            _ => zero_row,
                        });
                    }
                }
            }
        }
    }
    index
}

/// The [`ConvPath::FlexWeightGemm`] operation: a custom autodiff step on Burn's `Autodiff<Flex>`
/// backend (Burn's extension points: `Tensor::try_into_primitive`, `burn_autodiff`'s `Backward`).
mod flex_weight_gemm {
    use super::Geometry;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::flex::{FlexDevice, FlexTensor};
    use burn::backend::ops::{FloatTensorOps, ModuleOps};
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Autodiff, AutodiffBackend, Flex, TensorMetadata};
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{
        DType, FloatDType, GradientCheckpointingStrategy, Shape, Slice, Tensor, TensorData,
    };

    type Ad = Autodiff<Flex>;

    /// `conv2d(x, weight, bias)` on flex: the forward pass by Burn or, with `gemm_forward`, by
    /// [`im2col`] and [`gemm_forward_pass`]; the input gradient by Burn; the weight gradient by
    /// [`weight_gradient`] (reusing the forward pass's im2col matrix if there is one). `None` when the tensors are not f32 flex tensors with autodiff
    /// (without gradient checkpointing): the caller then takes another path.
    pub(super) fn conv2d(
        x: &Tensor<4>,
        weight: Tensor<4>,
        bias: Tensor<1>,
        options: ConvOptions<2>,
        geometry: Geometry,
        gemm_forward: bool,
    ) -> Option<Tensor<4>> {
        let usable = x.device().gradient_checkpointing_strategy()
            == Some(GradientCheckpointingStrategy::Disabled)
            && x.dtype() == DType::F32
            && weight.dtype() == DType::F32;
        if !usable {
            return None;
        }
        let x_ad = x.clone().try_into_primitive::<Ad>().ok()?;
        let w_ad = weight.try_into_primitive::<Ad>().ok()?;
        let b_ad = bias.try_into_primitive::<Ad>().ok()?;
        let nodes = [x_ad.node(), w_ad.node(), b_ad.node()];
        let x = Ad::inner(x_ad);
        let w = Ad::inner(w_ad);
        let b = Ad::inner(b_ad);
        let output = match WeightGemmConv
            .prepare::<NoCheckpointing>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) if gemm_forward => {
                // Chunk by chunk of the batch (cache-sized im2col matrices), kept for the
                // weight gradient.
                let (mut outputs, mut all_cols) = (Vec::new(), Vec::new());
                for (range, part) in chunks(&geometry, w.shape().dims::<4>(), CHUNK_BYTES) {
                    let cols = im2col(Flex::float_slice(x.clone(), &batch_slice(range)), &part);
                    outputs.push(gemm_forward_pass(cols.clone(), w.clone(), b.clone(), &part));
                    all_cols.push(cols);
                }
                let out = Flex::float_cat(outputs, 0);
                prep.finish((x, w, Some(all_cols), options, geometry), out)
            }
            OpsKind::Tracked(prep) => {
                let out = Flex::conv2d(x.clone(), w.clone(), Some(b), options.clone());
                prep.finish((x, w, None, options, geometry), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::conv2d(x, w, Some(b), options)),
        };
        Some(Tensor::from_primitive::<Ad>(output))
    }

    #[derive(Debug)]
    struct WeightGemmConv;

    impl Backward<Flex, 3> for WeightGemmConv {
        /// Input, weight, the forward pass's im2col matrix if it made one, options, geometry.
        type State = (
            FloatTensor<Flex>,
            FloatTensor<Flex>,
            Option<Vec<FloatTensor<Flex>>>,
            ConvOptions<2>,
            Geometry,
        );

        fn backward(
            self,
            ops: Ops<Self::State, 3>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            let [node_x, node_w, node_b] = ops.parents;
            let grad = grads.consume::<Flex>(&ops.node);
            let (x, w, cols, options, geometry) = ops.state;
            if let Some(node) = node_b {
                let [c_out, ..] = w.shape().dims::<4>();
                // Σ over batch, rows and columns of the output gradient.
                let db = Flex::float_sum_dims(grad.clone(), &[0, 2, 3]);
                grads.register::<Flex>(node.id, Flex::float_reshape(db, Shape::new([c_out])));
            }
            if let Some(node) = node_w {
                let [c_out, c_in, kh, kw] = w.shape().dims::<4>();
                let dims = [c_out, c_in, kh, kw];
                let dw = match cols {
                    Some(cols) => stored_cols_weight_gradient(cols, grad.clone(), &geometry, dims),
                    None => chunked_weight_gradient(
                        x.clone(),
                        grad.clone(),
                        &geometry,
                        dims,
                        CHUNK_BYTES,
                    ),
                };
                grads.register::<Flex>(node.id, dw);
            }
            if let Some(node) = node_x {
                let dx = Flex::conv2d_x_backward(x, w, grad, options);
                grads.register::<Flex>(node.id, dx);
            }
        }
    }

    /// The im2col matrix `[n, h'·w', k_h·k_w·c_in]` of `x` `[n, c_in, h, w]`: every output
    /// pixel's patch, taps in (ky, kx, c) order, zeros where a tap falls in the padding. One
    /// pass, image by image in parallel: the image goes channels-last into a zero-bordered
    /// buffer (per thread, borders written once), where the `k_w` taps of one kernel row are
    /// `k_w · c_in` contiguous values, so each kernel row of each patch is one copy. (It was a
    /// gather with a patch index through Burn's `select`, measured slower.)
    fn im2col(x: FloatTensor<Flex>, g: &Geometry) -> FloatTensor<Flex> {
        let x = x.to_contiguous();
        let input = x.shape().dims::<4>();
        let [oh, ow] = g.out_size;
        let [kh, kw] = g.kernel;
        let cols = occlab_kernels::im2col(
            x.storage(),
            occlab_kernels::Im2colGeometry {
                input,
                out_size: g.out_size,
                kernel: g.kernel,
                stride: g.stride,
                pad_start: g.pad_start,
            },
        );
        FlexTensor::from_data(TensorData::new(
            cols,
            [input[0], oh * ow, kh * kw * input[1]],
        ))
    }

    /// `y [n, c_out, h', w']` from the im2col matrix: `cols [n·h'·w', taps] × Wᵀ [taps, c_out]`
    /// (one product, pixels as rows), then one pass that adds the bias and moves the channels
    /// in front (NCHW).
    fn gemm_forward_pass(
        cols: FloatTensor<Flex>,
        w: FloatTensor<Flex>,
        b: FloatTensor<Flex>,
        g: &Geometry,
    ) -> FloatTensor<Flex> {
        let [c_out, c_in, kh, kw] = w.shape().dims::<4>();
        let [oh, ow] = g.out_size;
        let (pixels, taps) = (oh * ow, kh * kw * c_in);
        // [c_out, c, ky, kx] → [ky, kx, c, c_out] = Wᵀ with taps in (ky, kx, c) order.
        let w_t = Flex::float_reshape(
            Flex::float_permute(w, &[2, 3, 1, 0]),
            Shape::new([taps, c_out]),
        );
        let rows = Flex::float_reshape(cols, Shape::new([g.batch * pixels, taps]));
        let y = Flex::float_matmul(rows, w_t.to_contiguous()).to_contiguous(); // [n·h'·w', c_out]
        let b = b.to_contiguous();
        let out = occlab_kernels::rows_to_nchw_with_bias(y.storage(), g.batch, pixels, b.storage());
        FlexTensor::from_data(TensorData::new(out, [g.batch, c_out, oh, ow]))
    }

    /// The batch ranges of at most about `chunk_bytes` of im2col matrix each, with their
    /// geometries.
    fn chunks(
        g: &Geometry,
        [_, c_in, kh, kw]: [usize; 4],
        chunk_bytes: usize,
    ) -> Vec<(std::ops::Range<usize>, Geometry)> {
        let per_image = g.out_size[0] * g.out_size[1] * kh * kw * c_in * size_of::<f32>();
        let chunk = (chunk_bytes / per_image.max(1)).clamp(1, g.batch.max(1));
        (0..g.batch)
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(g.batch);
                let part = Geometry {
                    batch: end - start,
                    ..*g
                };
                (start..end, part)
            })
            .collect()
    }

    /// `[start..end, .., .., ..]`.
    fn batch_slice(range: std::ops::Range<usize>) -> [Slice; 4] {
        let all = || Slice::new(0, None, 1);
        [
            Slice::new(range.start as isize, Some(range.end as isize), 1),
            all(),
            all(),
            all(),
        ]
    }

    /// `dW[o, c, ky, kx] = Σ_{n,y,x} dy[n, o, y, x] · x_padded[n, c, y·s + ky, x·s + kx]` from the
    /// im2col matrices the forward pass kept, chunk by chunk (see [`chunks`]).
    fn stored_cols_weight_gradient(
        cols: Vec<FloatTensor<Flex>>,
        dy: FloatTensor<Flex>,
        g: &Geometry,
        dims: [usize; 4],
    ) -> FloatTensor<Flex> {
        let parts = chunks(g, dims, CHUNK_BYTES).into_iter().zip(cols);
        let sums = parts.map(|((range, _), cols)| {
            summed_products(cols, Flex::float_slice(dy.clone(), &batch_slice(range)))
        });
        to_weight_layout(add_up(sums, dims), dims)
    }

    /// The same from `x` without stored im2col matrices: the batch goes in chunks whose im2col
    /// matrices stay near `chunk_bytes` ([`CHUNK_BYTES`] in training; 145 MB for conv2 of a
    /// 160-image batch in one piece, more for longer sequences or bigger images), partial sums
    /// added up. Smaller matrices also stay in cache: this made conv2 faster.
    pub(super) fn chunked_weight_gradient(
        x: FloatTensor<Flex>,
        dy: FloatTensor<Flex>,
        g: &Geometry,
        dims: [usize; 4],
        chunk_bytes: usize,
    ) -> FloatTensor<Flex> {
        let sums = chunks(g, dims, chunk_bytes)
            .into_iter()
            .map(|(range, part)| {
                let cols = im2col(
                    Flex::float_slice(x.clone(), &batch_slice(range.clone())),
                    &part,
                );
                summed_products(cols, Flex::float_slice(dy.clone(), &batch_slice(range)))
            });
        to_weight_layout(add_up(sums, dims), dims)
    }

    /// Σ of the partial `[1, c_out, taps]` sums (zeros for an empty batch).
    fn add_up(
        sums: impl Iterator<Item = FloatTensor<Flex>>,
        [c_out, c_in, kh, kw]: [usize; 4],
    ) -> FloatTensor<Flex> {
        sums.reduce(Flex::float_add).unwrap_or_else(|| {
            Flex::float_zeros(
                Shape::new([1, c_out, kh * kw * c_in]),
                &FlexDevice,
                FloatDType::F32,
            )
        })
    }

    /// Im2col matrices of about this size at most in the backward pass of `FlexWeightGemm`.
    const CHUNK_BYTES: usize = 32 << 20;

    /// `Σ_n dy_n × cols_n`: `[1, c_out, taps]`.
    fn summed_products(cols: FloatTensor<Flex>, dy: FloatTensor<Flex>) -> FloatTensor<Flex> {
        let [n, c_out, oh, ow] = dy.shape().dims::<4>();
        let dy = Flex::float_reshape(dy, Shape::new([n, c_out, oh * ow]));
        let per_image = Flex::float_matmul(dy, cols); // [n, c_out, taps]
        Flex::float_sum_dim(per_image, 0)
    }

    /// `[1, c_out, taps]` with taps in (ky, kx, c) order → `[c_out, c, ky, kx]`.
    fn to_weight_layout(
        dw: FloatTensor<Flex>,
        [c_out, c_in, kh, kw]: [usize; 4],
    ) -> FloatTensor<Flex> {
        let dw = Flex::float_reshape(dw, Shape::new([c_out, kh, kw, c_in]));
        Flex::float_permute(dw, &[0, 3, 1, 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};

    fn flex() -> Device {
        Device::flex()
    }

    /// |a − b| < max(1e-5 · |a + b|, 1e-5): float rounding of a different summation order.
    fn tolerance() -> Tolerance<f32> {
        Tolerance::rel_abs(1e-5, 1e-5)
    }

    fn assert_close<const D: usize>(actual: Tensor<D>, expected: Tensor<D>, what: &str) {
        assert_eq!(actual.dims(), expected.dims(), "{what}: shape");
        actual
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), tolerance());
    }

    /// The six models' layers: 3×3, "same", stride 1 and 2, on odd and even sizes; plus
    /// valid and explicit padding.
    fn cases() -> Vec<(Conv2dSpec, [usize; 4])> {
        let same = |cin, cout, s| {
            Conv2dSpec::new([cin, cout], [3, 3])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Same)
        };
        vec![
            (same(1, 4, 1), [3, 1, 8, 8]),
            (same(3, 5, 1), [2, 3, 7, 9]),
            (same(4, 6, 2), [2, 4, 8, 8]),
            (same(4, 6, 2), [2, 4, 7, 7]),
            (same(2, 3, 2), [1, 2, 5, 6]),
            (Conv2dSpec::new([2, 3], [3, 3]), [2, 2, 6, 5]),
            (
                Conv2dSpec::new([2, 3], [3, 2])
                    .with_stride([2, 1])
                    .with_padding(PaddingConfig2d::Explicit(1, 0, 2, 1)),
                [2, 2, 6, 5],
            ),
        ]
    }

    #[test]
    fn forward_matches_burns_conv2d() {
        let device = flex();
        for (spec, shape) in cases() {
            let conv = spec.init(&device);
            let x = Tensor::<4>::random(shape, Distribution::Default, &device);
            let native = conv.forward_with(x.clone(), ConvPath::Native);
            for path in [
                ConvPath::Im2col,
                ConvPath::FlexWeightGemm,
                ConvPath::FlexGemm,
            ] {
                let y = conv.forward_with(x.clone(), path);
                assert_close(y, native.clone(), &format!("{path:?} {spec:?} {shape:?}"));
            }
        }
    }

    #[test]
    fn gradients_match_burns_conv2d() {
        let device = flex().autodiff();
        for (spec, shape) in cases() {
            let conv = spec.init(&device);
            let x = Tensor::<4>::random(shape, Distribution::Default, &device).require_grad();
            let [c_out, _, _, _] = conv.weight.dims();
            let out_size = conv.output_size(shape[2], shape[3]);
            // A non-uniform upstream gradient: sum of y ⊙ r.
            let r = Tensor::<4>::random(
                [shape[0], c_out, out_size[0], out_size[1]],
                Distribution::Default,
                &device,
            );
            let grads = |path| {
                let loss = (conv.forward_with(x.clone(), path) * r.clone()).sum();
                let grads = loss.backward();
                (
                    x.grad(&grads).expect("input gradient"),
                    conv.weight.val().grad(&grads).expect("weight gradient"),
                    conv.bias
                        .as_ref()
                        .expect("bias")
                        .val()
                        .grad(&grads)
                        .expect("bias gradient"),
                )
            };
            let (dx_n, dw_n, db_n) = grads(ConvPath::Native);
            for path in [
                ConvPath::Im2col,
                ConvPath::FlexWeightGemm,
                ConvPath::FlexGemm,
            ] {
                let (dx, dw, db) = grads(path);
                let what = format!("{path:?} {spec:?} {shape:?}");
                assert_close(dx, dx_n.clone(), &format!("input gradient {what}"));
                assert_close(dw, dw_n.clone(), &format!("weight gradient {what}"));
                assert_close(db, db_n.clone(), &format!("bias gradient {what}"));
            }
        }
    }

    #[test]
    fn each_layer_takes_its_measured_path_on_flex() {
        for device in [flex(), flex().autodiff()] {
            assert_eq!(ConvPath::choose(&device, [1, 1]), ConvPath::FlexGemm);
            assert_eq!(ConvPath::choose(&device, [2, 2]), ConvPath::Im2col);
            assert_eq!(ConvPath::choose(&device, [2, 1]), ConvPath::Im2col);
        }
    }

    #[test]
    fn the_custom_autodiff_step_runs_on_flex_with_autodiff_only() {
        let spec = Conv2dSpec::new([2, 3], [3, 3]).with_padding(PaddingConfig2d::Same);
        for (device, expected) in [(flex().autodiff(), true), (flex(), false)] {
            for gemm_forward in [false, true] {
                let conv = spec.init(&device);
                let x = Tensor::<4>::random([2, 2, 5, 5], Distribution::Default, &device);
                let taken = flex_weight_gemm::conv2d(
                    &x,
                    conv.weight.val(),
                    conv.bias.as_ref().unwrap().val(),
                    conv.options([5, 5]),
                    conv.geometry(2, [5, 5]),
                    gemm_forward,
                );
                assert_eq!(taken.is_some(), expected, "{device:?}");
            }
        }
    }

    #[test]
    fn the_weight_gradient_adds_up_over_batch_chunks() {
        use burn::backend::Flex;
        use burn::tensor::module::conv2d_weight_backward;
        let device = flex();
        for stride in [1, 2] {
            let spec = Conv2dSpec::new([3, 4], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Same);
            let conv = spec.init(&device);
            let (n, size) = (5, 7);
            let out = conv.output_size(size, size);
            let x = Tensor::<4>::random([n, 3, size, size], Distribution::Default, &device);
            let dy = Tensor::<4>::random([n, 4, out[0], out[1]], Distribution::Default, &device);
            let expected = conv2d_weight_backward(
                x.clone(),
                conv.weight.val(),
                dy.clone(),
                conv.options([size, size]),
            );
            // One image per chunk, two, and the whole batch at once.
            for chunk_bytes in [1, 2 * out[0] * out[1] * 9 * 3 * 4, usize::MAX] {
                let dw = flex_weight_gemm::chunked_weight_gradient(
                    x.clone().try_into_primitive::<Flex>().unwrap(),
                    dy.clone().try_into_primitive::<Flex>().unwrap(),
                    &conv.geometry(n, [size, size]),
                    [4, 3, 3, 3],
                    chunk_bytes,
                );
                let dw = Tensor::<4>::from_primitive::<Flex>(dw);
                assert_close(
                    dw,
                    expected.clone(),
                    &format!("stride {stride}, {chunk_bytes} B"),
                );
            }
        }
    }

    #[test]
    fn gemm_paths_match_burn_when_the_batch_spans_several_chunks() {
        // 64 channels at 32×32: 2.4 MB of im2col matrix per image, 13 images per 32 MB chunk,
        // so 30 images make three chunks, the last one short.
        let device = flex().autodiff();
        let spec = Conv2dSpec::new([64, 8], [3, 3]).with_padding(PaddingConfig2d::Same);
        let conv = spec.init(&device);
        let x = Tensor::<4>::random([30, 64, 32, 32], Distribution::Default, &device);
        let r = Tensor::<4>::random([30, 8, 32, 32], Distribution::Default, &device);
        let run = |path| {
            let y = conv.forward_with(x.clone(), path);
            let grads = (y.clone() * r.clone()).sum().backward();
            (y, conv.weight.val().grad(&grads).expect("weight gradient"))
        };
        let (y_n, dw_n) = run(ConvPath::Native);
        for path in [ConvPath::FlexGemm, ConvPath::FlexWeightGemm] {
            let (y, dw) = run(path);
            assert_close(y.inner(), y_n.clone().inner(), &format!("{path:?} output"));
            assert_close(dw, dw_n.clone(), &format!("{path:?} weight gradient"));
        }
    }

    #[test]
    fn loads_checkpoints_written_with_burns_conv2d() {
        // A checkpoint written by Burn's own layer loads into ours and computes the same.
        let device = flex();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conv.bpk");
        let burn_conv = Conv2dConfig::new([3, 4], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Same)
            .init(&device);
        burn_conv.clone().save_file(&path).unwrap();
        let spec = Conv2dSpec::new([3, 4], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Same);
        let loaded = spec
            .init(&device)
            .try_load_file(&path)
            .expect("load Burn's Conv2d record");
        for size in [6, 7] {
            let x = Tensor::<4>::random([2, 3, size, size], Distribution::Default, &device);
            assert_close(loaded.forward(x.clone()), burn_conv.forward(x), "loaded");
        }
    }
}

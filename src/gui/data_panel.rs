//! Data panel: choose a data source (see [`super::source_form`]), load it in the background,
//! look at what was loaded.

use super::source_form::SourceForm;
use super::task::{Task, take_done};
use super::widgets;
use super::workbench::{PanelId, Workbench, panel_heading};
use crate::data::clips::{StripFrame, VideoClip, frame_strip};
use crate::data::source::DataSource;
use crate::data::{ImageSet, Split};
use egui::{Color32, RichText, TextureHandle};
use egui_plot::{Bar, BarChart, Legend};
use std::path::PathBuf;

/// Number of sample images shown (a square grid).
const SAMPLE_COLUMNS: usize = 8;
const SAMPLE_ROWS: usize = 8;
/// Side of one sample image, in points.
const SAMPLE_CELL: f32 = 44.0;
/// Width of the summary-and-chart column when the samples stand beside it.
const SUMMARY_WIDTH: f32 = 460.0;

const TRAIN_COLOR: egui::Color32 = egui::Color32::from_rgb(70, 130, 200);
const TEST_COLOR: egui::Color32 = egui::Color32::from_rgb(160, 200, 235);

/// Textures of the sample grid, made once per data set.
struct SampleGrid {
    generation: u64,
    textures: Vec<TextureHandle>,
}
/// Folder frames shown in a clip's strip.
const STRIP_FRAMES: usize = 36;
/// Side of one strip frame, in points (the longer side).
const STRIP_CELL: f32 = 56.0;
/// Outline of the frames that sampling keeps.
const SAMPLED_COLOR: Color32 = Color32::from_rgb(250, 190, 40);

/// Where a strip decoded on a background thread arrives.
type StripTask = Task<Result<Vec<StripFrame>, String>>;

/// A strip of one clip's frames, as textures, with the sampled ones marked.
struct Strip {
    video: usize,
    frames: Vec<(TextureHandle, u32, bool)>,
}

/// The clip preview of a clip source: its videos (listed on a background thread), the chosen
/// one, and its strip (frame folders are decoded on a background thread).
struct ClipPreview {
    generation: u64,
    videos: Option<Result<Vec<VideoClip>, String>>,
    videos_task: Option<Task<Result<Vec<VideoClip>, String>>>,
    selected: usize,
    strip: Option<Strip>,
    strip_task: Option<(usize, StripTask)>,
}

/// The Data panel.
pub struct DataPanel {
    form: SourceForm,
    samples: Option<SampleGrid>,
    clips: Option<ClipPreview>,
}

impl DataPanel {
    pub fn new(source: &DataSource) -> Self {
        DataPanel {
            form: SourceForm::new(source),
            samples: None,
            clips: None,
        }
    }

    pub fn ui(&mut self, ui: &mut egui::Ui, workbench: &mut Workbench) {
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                panel_heading(
                    ui,
                    PanelId::Data,
                    "Choose the images the experiment occludes and learns from.",
                );
                self.form.ui(ui, workbench);
                self.current_ui(ui, workbench);
                self.clips_ui(ui, workbench);
            });
    }

    /// The clip preview, for clip sources: pick a video, see its frames in a strip with the
    /// sampled ones outlined.
    fn clips_ui(&mut self, ui: &mut egui::Ui, workbench: &Workbench) {
        let Some(data) = &workbench.data else {
            return;
        };
        if !data.source.is_clips() {
            self.clips = None;
            return;
        }
        if self.clips.as_ref().map(|c| c.generation) != Some(data.generation) {
            self.clips = Some(ClipPreview::start(
                data.generation,
                data.source.clone(),
                workbench.data_dir.clone(),
                ui.ctx(),
            ));
        }
        let Some(preview) = &mut self.clips else {
            return;
        };
        preview.poll();
        ui.add_space(widgets::SECTION_GAP);
        widgets::section(ui, "Clips");
        let videos = match &preview.videos {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Listing the videos…");
                });
                return;
            }
            Some(Err(e)) => {
                widgets::error_text(ui, format!("Cannot list the videos: {e}"));
                return;
            }
            Some(Ok(v)) => v.clone(),
        };
        if videos.is_empty() {
            ui.label("No videos.");
            return;
        }
        let set = &data.set;
        let train = videos.iter().filter(|v| v.split == Split::Train).count();
        ui.label(format!(
            "{} videos ({train} train, {} test), {} sampled frames in all.",
            videos.len(),
            videos.len() - train,
            set.len()
        ));
        let title = |v: &VideoClip| {
            format!(
                "{} ({}, {:?}, {} of {} frames sampled)",
                v.name,
                set.class_names
                    .get(v.class as usize)
                    .map_or("?", String::as_str),
                v.split,
                v.frame_numbers.len(),
                v.folder_frames
            )
        };
        let before = preview.selected.min(videos.len() - 1);
        preview.selected = before;
        ui.horizontal(|ui| {
            let l = ui.label("Video");
            egui::ComboBox::from_id_salt("clip_video")
                .selected_text(title(&videos[before]))
                .width(460.0)
                .show_ui(ui, |ui| {
                    for (i, v) in videos.iter().enumerate().take(500) {
                        ui.selectable_value(&mut preview.selected, i, title(v));
                    }
                })
                .response
                .labelled_by(l.id);
        });
        let video = &videos[preview.selected];
        let every = match &data.source {
            DataSource::Clips { options, .. } => options.sample_every,
            _ => 1,
        };
        let sampling = if every == 1 {
            "every frame is used".to_string()
        } else {
            format!("every {every}th frame is sampled (outlined)")
        };
        ui.label(
            RichText::new(format!(
                "Frames 1–{} of the clip; {sampling}. Training cuts the sampled frames into subsequences of T.",
                video.folder_frames.min(STRIP_FRAMES),
            ))
            .weak(),
        );
        if preview.strip.as_ref().map(|s| s.video) != Some(preview.selected) {
            preview.load_strip(ui.ctx(), &data.source, set, video);
        }
        match &preview.strip {
            Some(strip) if strip.video == preview.selected => {
                let (h, w) = (set.height as f32, set.width as f32);
                let scale = STRIP_CELL / h.max(w);
                let size = egui::vec2(w * scale, h * scale);
                egui::ScrollArea::horizontal()
                    .id_salt("clip_strip")
                    .show(ui, |ui| {
                        ui.horizontal(|ui| {
                            for (tex, position, sampled) in &strip.frames {
                                ui.vertical(|ui| {
                                    let stroke = if *sampled {
                                        egui::Stroke::new(3.0, SAMPLED_COLOR)
                                    } else {
                                        egui::Stroke::new(1.0, Color32::from_gray(70))
                                    };
                                    egui::Frame::new().stroke(stroke).inner_margin(2.0).show(
                                        ui,
                                        |ui| {
                                            ui.add(egui::Image::new(tex).fit_to_exact_size(size));
                                        },
                                    );
                                    let text = RichText::new(format!("{}", position + 1)).small();
                                    ui.label(if *sampled {
                                        text.color(SAMPLED_COLOR).strong()
                                    } else {
                                        text.weak()
                                    });
                                });
                            }
                        });
                    });
            }
            _ => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Decoding the frames…");
                });
            }
        }
    }

    fn current_ui(&mut self, ui: &mut egui::Ui, workbench: &Workbench) {
        widgets::section(ui, "Current data set");
        let Some(data) = &workbench.data else {
            if workbench.is_loading() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Loading…");
                });
            } else {
                ui.label("No data set loaded yet: choose a source above and press Load.");
            }
            return;
        };
        let set = &data.set;
        let [train, test] = data.split_sizes();
        if self.samples.as_ref().map(|s| s.generation) != Some(data.generation) {
            self.samples = Some(SampleGrid {
                generation: data.generation,
                textures: sample_textures(ui.ctx(), set),
            });
        }
        let summary = |ui: &mut egui::Ui| {
            egui::Grid::new("data_summary")
                .num_columns(2)
                .spacing([24.0, 6.0])
                .show(ui, |ui| {
                    summary_row(ui, "Name", &set.name);
                    summary_row(ui, "Source", &data.source.describe());
                    summary_row(ui, "Images", &set.len().to_string());
                    summary_row(ui, "Train split", &train.to_string());
                    summary_row(ui, "Test split", &test.to_string());
                    let colour = if set.channels == 1 {
                        "grey".to_string()
                    } else {
                        format!("{} channels", set.channels)
                    };
                    summary_row(
                        ui,
                        "Image size",
                        &format!("{} × {} px, {colour}", set.height, set.width),
                    );
                    summary_row(ui, "Classes", &set.num_classes().to_string());
                    if let Some(last) = set.groups.last() {
                        // OCR letters: each letter knows its word (words are numbered in order).
                        summary_row(
                            ui,
                            "Words",
                            &format!("{} (letters in the writers' order)", last + 1),
                        );
                    }
                    summary_row(
                        ui,
                        "Loaded in",
                        &format!("{:.2} s", data.load_time.as_secs_f64()),
                    );
                });
            widgets::section(ui, "Images per class");
            class_chart(ui, &set.class_names, &data.class_counts);
        };
        let samples = |ui: &mut egui::Ui| {
            ui.label(RichText::new("Samples").weak());
            if let Some(grid) = &self.samples {
                widgets::image_grid(
                    ui,
                    "data_samples",
                    &grid.textures,
                    SAMPLE_COLUMNS,
                    SAMPLE_CELL,
                );
            }
        };
        let samples_width = SAMPLE_COLUMNS as f32 * (SAMPLE_CELL + 4.0);
        // Summary and chart beside the samples on wide screens, above them on narrow ones.
        if ui.available_width() >= SUMMARY_WIDTH + 40.0 + samples_width {
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(SUMMARY_WIDTH);
                    summary(ui);
                });
                ui.add_space(40.0);
                ui.vertical(samples);
            });
        } else {
            summary(ui);
            ui.add_space(widgets::SECTION_GAP);
            samples(ui);
        }
    }
}

fn summary_row(ui: &mut egui::Ui, key: &str, value: &str) {
    ui.label(RichText::new(key).weak());
    ui.label(RichText::new(value).strong());
    ui.end_row();
}

/// Train and test counts per class, stacked, with class names on the x axis.
fn class_chart(ui: &mut egui::Ui, names: &[String], [train, test]: &[Vec<usize>; 2]) {
    // Owned: the axis formatter outlives this frame's borrow.
    let names = names.to_vec();
    let bars = |counts: &[usize], color: Color32| -> Vec<Bar> {
        counts
            .iter()
            .enumerate()
            .map(|(c, &n)| {
                Bar::new(c as f64, n as f64)
                    .name(&names[c])
                    .width(0.7)
                    .fill(color)
            })
            .collect()
    };
    let (train_bars, test_bars) = (bars(train, TRAIN_COLOR), bars(test, TEST_COLOR));
    let train_chart = BarChart::new("train", train_bars).color(TRAIN_COLOR);
    let test_chart = BarChart::new("test", test_bars)
        .color(TEST_COLOR)
        .stack_on(&[&train_chart]);
    let n = names.len();
    // Head room above the tallest bar for the legend.
    let tallest = train
        .iter()
        .zip(test)
        .map(|(a, b)| a + b)
        .max()
        .unwrap_or(0);
    widgets::static_plot("class_counts", 200.0)
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .include_y(0.0)
        .include_y(tallest as f64 * 1.35)
        .include_x(-0.6)
        .include_x(n as f64 - 0.4)
        // One mark per class, labelled with its name.
        .x_grid_spacer(move |_| {
            (0..n)
                .map(|c| egui_plot::GridMark {
                    value: c as f64,
                    step_size: 1.0,
                })
                .collect()
        })
        // Class names under the bars, however close together (egui_plot's default hides X labels
        // closer than 60 points; a label is still dropped when it is wider than its slot).
        .custom_x_axes(vec![
            egui_plot::AxisHints::new_x()
                .label_spacing(8.0..=12.0)
                .formatter(move |mark, _| {
                    let v = mark.value;
                    if (v - v.round()).abs() < 1e-6 && v >= 0.0 && (v as usize) < n {
                        names[v as usize].clone()
                    } else {
                        String::new()
                    }
                }),
        ])
        .show(ui, |plot| {
            plot.bar_chart(train_chart);
            plot.bar_chart(test_chart);
        });
}

/// Up to 8×8 sample images, cycling through the classes, as textures.
fn sample_textures(ctx: &egui::Context, set: &ImageSet) -> Vec<TextureHandle> {
    set.sample_ids(SAMPLE_COLUMNS * SAMPLE_ROWS)
        .into_iter()
        .enumerate()
        .map(|(k, i)| {
            let image = widgets::to_color_image(set.image(i), set.height, set.width, set.channels);
            widgets::load_nearest(ctx, &format!("data-sample-{k}"), image)
        })
        .collect()
}

impl ClipPreview {
    /// Lists the videos of `source` on a background thread.
    fn start(
        generation: u64,
        source: DataSource,
        data_dir: Option<PathBuf>,
        ctx: &egui::Context,
    ) -> Self {
        let task = Task::spawn(ctx, "list-clips", move || {
            source
                .clip_videos(data_dir.as_deref())
                .map(Option::unwrap_or_default)
                .map_err(|e| e.to_string())
        });
        let (videos, videos_task) = match task {
            Ok(task) => (None, Some(task)),
            Err(e) => (Some(Err(e.to_string())), None),
        };
        ClipPreview {
            generation,
            videos,
            videos_task,
            selected: 0,
            strip: None,
            strip_task: None,
        }
    }

    /// Takes the video list when it has arrived.
    fn poll(&mut self) {
        if let Some(result) = take_done(&mut self.videos_task) {
            self.videos = Some(result.map_err(|e| e.to_string()).and_then(|r| r));
        }
    }

    /// Takes a decoded strip when it has arrived, or starts making the strip of `video`: generated
    /// clips show their frames from the loaded set (every one sampled), frame folders are decoded
    /// on a background thread.
    fn load_strip(
        &mut self,
        ctx: &egui::Context,
        source: &DataSource,
        set: &ImageSet,
        video: &VideoClip,
    ) {
        let index = self.selected;
        let texture = |k: usize, pixels: &[u8]| {
            let image = widgets::to_color_image(pixels, set.height, set.width, set.channels);
            widgets::load_nearest(ctx, &format!("clip-strip-{index}-{k}"), image)
        };
        if video.files.is_empty() {
            let frames = video
                .frames
                .iter()
                .zip(&video.frame_numbers)
                .take(STRIP_FRAMES)
                .enumerate()
                .map(|(k, (&id, &pos))| (texture(k, set.image(id as usize)), pos, true))
                .collect();
            self.strip = Some(Strip {
                video: index,
                frames,
            });
            return;
        }
        if let Some((video_index, task)) = &self.strip_task
            && *video_index == index
        {
            match task
                .poll()
                .map(|r| r.map_err(|e| e.to_string()).and_then(|r| r))
            {
                Some(Ok(frames)) => {
                    let frames = frames
                        .iter()
                        .enumerate()
                        .map(|(k, f)| (texture(k, &f.pixels), f.position, f.sampled))
                        .collect();
                    self.strip = Some(Strip {
                        video: index,
                        frames,
                    });
                    self.strip_task = None;
                }
                Some(Err(e)) => {
                    self.strip = Some(Strip {
                        video: index,
                        frames: Vec::new(),
                    });
                    self.strip_task = None;
                    self.videos = Some(Err(format!("decoding {}: {e}", video.name)));
                }
                None => {}
            }
            return;
        }
        let DataSource::Clips { options, .. } = source else {
            return;
        };
        let (video, options) = (video.clone(), options.clone());
        let task = Task::spawn(ctx, "clip-strip", move || {
            frame_strip(&video, &options, 0, STRIP_FRAMES).map_err(|e| e.to_string())
        });
        if let Ok(task) = task {
            self.strip_task = Some((index, task));
        }
    }
}

"""Training recipes: the study's ``paper`` recipe as written, and the edge recipes (default ``wide-bf16-tail``).

A recipe is plain data; :mod:`train.models` turns its architecture fields into a Keras model and
:mod:`train.trainer` turns the rest into an optimiser, schedule and augmentation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from core.labels import INPUT_SIZE, NUM_CLASSES

VARIANTS: tuple[str, ...] = ("unweighted", "weighted")
TEACHER_VIEWS: tuple[str, ...] = ("mirror", "tencrop")  # train.ensemble.VIEWS a distilling student may use
SCHEDULES: tuple[str, ...] = ("constant", "cosine", "plateau")
OPTIMIZERS: tuple[str, ...] = ("adamw", "sgd")


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    # architecture: one block per entry of ``widths``; ``convs`` convolutions per block, max-pool after
    widths: tuple[int, ...]
    convs: tuple[int, ...]
    head: str  # "flatten_dense" (the study) or "gap" (global average pooling)
    dense_units: int
    block_dropout: float
    head_dropout: float
    bn_momentum: float
    # optimisation
    epochs: int
    batch_size: int
    learning_rate: float
    # "constant", "cosine" (linear warm-up for ``warmup_epochs``, then cosine to zero) or "plateau" (Keras'
    # ReduceLROnPlateau on validation accuracy: times ``plateau_factor`` after ``plateau_patience`` epochs without a
    # new best; it needs no epoch count, so a run cut short by a time limit has followed its schedule)
    schedule: str
    weight_decay: float
    # augmentation, applied in the input pipeline, never inside the exported model
    flip: bool
    rotation_deg: float
    translate: float
    zoom: float
    # knowledge distillation: the training target mixes the one-hot label with the averaged predictions of teacher
    # runs (folders under the runs root, e.g. "wide-40ep/unweighted-seed0"), softened by a temperature
    teachers: tuple[str, ...] = ()
    distill_weight: float = 0.0  # share of the teachers' soft target in the training target (0: labels only)
    distill_temperature: float = 1.0
    # the teachers' test-time views each training image's target averages over (train.ensemble.views): "mirror" (the
    # image and its mirror image) or "tencrop" (also four 44x44 corner crops scaled back, each mirrored)
    teacher_views: str = "mirror"
    warmup_epochs: int = 1  # cosine schedule: epochs of linear warm-up from a tenth of ``learning_rate``
    # fine-tuning: start from the best checkpoint of this run instead of random weights; ``{variant}`` and ``{seed}``
    # are filled in per run (e.g. "distilled-60ep/{variant}-seed{seed}"); the architecture must match this recipe's
    init_from: str = ""
    # training compute precision: "float32", or "mixed_bfloat16" (bfloat16 maths, float32 weights; faster
    # on CPUs with AMX/AVX512-BF16 such as the development machine). Checkpoints keep float32 weights, and
    # :func:`train.models.load_float32` rebuilds them in float32 for evaluation, conversion and teachers.
    precision: str = "float32"
    # optimiser: "adamw" (AdamW, or Adam when ``weight_decay`` is 0) or "sgd" (Nesterov momentum ``momentum``)
    optimizer: str = "adamw"
    momentum: float = 0.9
    plateau_factor: float = 0.75
    plateau_patience: int = 5
    # random erasing (Keras' RandomErasing) applied to this share of the training images; 0: off
    erasing: float = 0.0
    # detector crops: each time a training image is drawn, with probability ``device_crop_share`` it is replaced by
    # the crop the device cut of that face with this detector (a setting such as "blazeface"; the file that
    # ``python -m benchmarks device-crops`` writes under the runs root, core.devicecrops), where it found the face
    device_crops: str = ""
    device_crop_share: float = 0.0
    # a weight average ("model soup", Wortsman et al. 2022) instead of training: the best checkpoints of these runs
    # (``{variant}`` and ``{seed}`` filled in per run, as ``init_from``; this recipe's architecture, best started from
    # one checkpoint, e.g. two tails of one run) averaged weight for weight, BatchNorm statistics too; epochs must be 0
    soup: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field_name, value, allowed in (("schedule", self.schedule, SCHEDULES),
                                           ("optimizer", self.optimizer, OPTIMIZERS)):
            if value not in allowed:
                raise ValueError(f"recipe {self.name!r}: {field_name} {value!r}, expected one of {allowed}")
        if not 0.0 <= self.device_crop_share <= 1.0 or (self.device_crop_share > 0) != bool(self.device_crops):
            raise ValueError(f"recipe {self.name!r}: device_crop_share {self.device_crop_share} with device_crops "
                             f"{self.device_crops!r}: expected a share in (0, 1] with a detector, or 0 without one")
        if self.soup and (len(self.soup) < 2 or self.epochs != 0 or self.init_from or self.distill_weight > 0):
            raise ValueError(f"recipe {self.name!r}: a soup averages at least two runs and trains nothing: expected "
                             f"0 epochs, no init_from and no distillation (soup {self.soup}, {self.epochs} epochs)")
        if self.teacher_views not in TEACHER_VIEWS:
            raise ValueError(f"recipe {self.name!r}: teacher_views {self.teacher_views!r}, expected one of "
                             f"{TEACHER_VIEWS}")

    def cost(self) -> tuple[int, int]:
        """(parameters, multiply-adds per face) of the model :func:`train.models.build_model` makes of this recipe:
        3x3 convolutions without bias, BatchNorm (4 numbers a channel), 2x2 max-pooling after each block but the last
        (after the last too with the dense head), the head and the 7-way output. Counted from the recipe alone, so
        the plan can say what a student costs the device before anything is built."""
        params = macs = 0
        side, channels = INPUT_SIZE, 1
        for b, (width, n_convs) in enumerate(zip(self.widths, self.convs, strict=True)):
            for _ in range(n_convs):
                params += 9 * channels * width + 4 * width
                macs += side * side * 9 * channels * width
                channels = width
            if self.head == "flatten_dense" or b < len(self.widths) - 1:
                side //= 2
        if self.head == "flatten_dense":
            features = side * side * channels
            params += features * self.dense_units + 4 * self.dense_units
            macs += features * self.dense_units
            channels = self.dense_units
        return params + channels * NUM_CLASSES + NUM_CLASSES, macs + channels * NUM_CLASSES

    def with_epochs(self, epochs: int | None) -> Recipe:
        return self if epochs is None else replace(self, epochs=epochs)

    def to_dict(self) -> dict:
        return asdict(self)


PAPER = Recipe(
    name="paper",
    description=(
        "The study as written: 3 conv blocks (2x Conv3x3-BN-ReLU, max-pool, dropout) of 32/64/128 filters, "
        "dense 256 head, Adam lr=1e-4 constant, 100 epochs, horizontal flips and +-10 degree rotations."
    ),
    widths=(32, 64, 128),
    convs=(2, 2, 2),
    head="flatten_dense",
    dense_units=256,
    block_dropout=0.25,
    head_dropout=0.5,
    bn_momentum=0.9,
    epochs=100,
    batch_size=64,
    learning_rate=1e-4,
    schedule="constant",
    weight_decay=0.0,
    flip=True,
    rotation_deg=10.0,
    translate=0.0,
    zoom=0.0,
)

COMPACT = Recipe(
    name="compact",
    description=(
        "feredge's first edge recipe: 4 blocks of 24/48/96/192 filters (1,2,2,1 convs), global average pooling, "
        "AdamW lr=2e-3 with one warm-up epoch and cosine decay to zero, flips, +-10 degree rotations, 10% shifts "
        "and zoom; 50 epochs. The study's recipe (at 16 epochs per run), half the cost per image of 'wide'."
    ),
    widths=(24, 48, 96, 192),
    convs=(1, 2, 2, 1),
    head="gap",
    dense_units=0,
    block_dropout=0.1,
    head_dropout=0.3,
    bn_momentum=0.9,
    epochs=50,
    batch_size=128,
    learning_rate=2e-3,
    schedule="cosine",
    weight_decay=1e-4,
    flip=True,
    rotation_deg=10.0,
    translate=0.1,
    zoom=0.1,
)

# The product's base model: the compact recipe a third wider (1.8x the cost per image), 40 epochs not 50. The
# default trains it in mixed precision (wide-bf16) and adds a tail (wide-bf16-tail).
WIDE = replace(
    COMPACT,
    name="wide",
    description=(
        "feredge's base model in float32 (the default, wide-bf16-tail, trains it in mixed precision and adds a "
        "4-epoch tail): the compact recipe with 32/64/128/256 filters (576k parameters) and 40 epochs."
    ),
    widths=(32, 64, 128, 256),
    epochs=40,
)

# The wide student of an ensemble teacher: trained on a mix of labels and the averaged (image and mirror image)
# predictions of the two earlier unweighted runs; a run of this recipe needs those runs in the runs folder.
DISTILLED = replace(
    WIDE,
    name="distilled",
    description=(
        "The wide recipe for 60 epochs, trained on targets that are half the one-hot label and half the softened "
        "(temperature 2) average of the wide-40ep and compact-50ep unweighted runs' predictions on each image and "
        "its mirror image. Needs those two teacher runs; costs them plus about 1.5x one wide run."
    ),
    epochs=60,
    teachers=("wide-40ep/unweighted-seed0", "compact-50ep/unweighted-seed0"),
    distill_weight=0.5,
    distill_temperature=2.0,
)

# The second generation: the same wide student, taught by the three best unweighted runs (the first distilled run
# among them; the README's recipe list has what their ensemble and the student measured),
# with more weight on the teachers and 70 epochs.
DISTILLED2 = replace(
    DISTILLED,
    name="distilled2",
    description=(
        "Second-generation distillation: the wide recipe for 70 epochs, trained on targets that are 30% the one-hot "
        "label and 70% the softened (temperature 2) average of the distilled-60ep, wide-40ep and compact-50ep "
        "unweighted runs' predictions on each image and its mirror image. Needs those runs (trains them first)."
    ),
    epochs=70,
    teachers=("distilled-60ep/unweighted-seed0", "wide-40ep/unweighted-seed0", "compact-50ep/unweighted-seed0"),
    distill_weight=0.7,
)

# Fine-tuning the distilled students: a short cosine tail at a low learning rate with flips as the only
# augmentation. The distilled runs saw only rotated, shifted and zoomed faces in training; a few epochs on plain
# (only mirrored) faces adapt the weights and the BatchNorm statistics to the faces the model will see. A throwaway
# probe (flips only, lr 3e-4, batch 64, these teachers, 4 epochs) lifted the unweighted student on PublicTest; this
# recipe is that probe made reproducible (measured figures: README, and each run's metrics.json).
# The plain-face tail the shipped recipes end with: 4 epochs from a finished run, AdamW lr 3e-4 cosine to zero without
# warm-up, batch 64, flips only (no rotation, shift or zoom).
PLAIN_TAIL: dict = {"epochs": 4, "batch_size": 64, "learning_rate": 3e-4, "warmup_epochs": 0, "rotation_deg": 0.0,
                    "translate": 0.0, "zoom": 0.0}
FINETUNED = replace(
    DISTILLED,
    name="finetuned",
    description=(
        "The distilled-60ep run of the same variant, fine-tuned for 4 epochs: AdamW lr 3e-4 cosine to zero without "
        "warm-up, batch 64, flips only (no rotation, shift or zoom), targets half the one-hot label and half the "
        "softened average of the distilled-60ep, wide-40ep and compact-50ep unweighted runs. Needs those runs "
        "(trains them first)."
    ),
    **PLAIN_TAIL,
    teachers=DISTILLED2.teachers,
    distill_weight=0.5,
    init_from="distilled-60ep/{variant}-seed{seed}",
)

# The same tail with half the base recipe's geometric augmentation: the flip-only tail made the model lose more
# accuracy when the face box is 15% smaller or larger (the benchmark's jitter table); does a milder tail keep both?
FINETUNED_MILD = replace(
    FINETUNED,
    name="finetuned-mild",
    description=(
        "Like 'finetuned' (4 epochs from the distilled-60ep run, lr 3e-4 cosine, batch 64, same teachers) but with "
        "half the base recipe's geometric augmentation in the tail: +-5 degree rotations, 5% shifts and zoom."
    ),
    rotation_deg=5.0,
    translate=0.05,
    zoom=0.05,
)

# The wide run plus the same tail, without teachers (so the gain is the tail's, not the distillation's); the
# measured gains and minutes are in the README (runs/wide-tail-4ep/report-seed0.md).
WIDE_TAIL = replace(
    FINETUNED,
    name="wide-tail",
    description=(
        "The wide-40ep run of the same variant, fine-tuned for 4 epochs like 'finetuned' (AdamW lr 3e-4 cosine to "
        "zero, batch 64, flips only) but on the labels alone, no teachers. In float32; the default, wide-bf16-tail, "
        "is the same in mixed precision."
    ),
    teachers=(),
    distill_weight=0.0,
    init_from="wide-40ep/{variant}-seed{seed}",
)

# The wide recipe and its tail trained in mixed precision (bfloat16 maths, float32 weights): the same 40 + 4 epochs
# in less time on a CPU with bfloat16 units (float32 elsewhere, see
# train.precision.training_precision). The checkpoints convert as float32 models. The product's default: the same
# PublicTest accuracy as wide-tail in less time (the README's recipe list has the measured minutes and accuracies).
WIDE_BF16 = replace(
    WIDE,
    name="wide-bf16",
    description=(
        "The wide recipe (32/64/128/256 filters, 40 epochs, AdamW + cosine, flips, rotations, shifts, zoom) trained "
        "in mixed precision: bfloat16 maths, float32 weights and softmax; evaluated and converted in float32."
    ),
    precision="mixed_bfloat16",
)
WIDE_BF16_TAIL = replace(
    WIDE_TAIL,
    name="wide-bf16-tail",
    description=(
        "The product's default: wide-tail in mixed precision, i.e. the wide-bf16-40ep run of the same variant "
        "fine-tuned for 4 epochs (AdamW lr 3e-4 cosine to zero, batch 64, flips only, labels alone) in bfloat16 maths "
        "with float32 weights."
    ),
    init_from="wide-bf16-40ep/{variant}-seed{seed}",
    precision="mixed_bfloat16",
)

# A teacher for the shipped student (issue: stronger teachers): a VGG-style model of 4.6M parameters, eight times
# the wide model's width in its last block and about five times its cost per image; too slow for the device, meant
# only to produce better soft targets. Trained in mixed precision, resumable over several sessions on a CPU.
TEACHER_VGG = replace(
    WIDE_BF16,
    name="teacher-vgg",
    description=(
        "A VGG-style teacher (not for the device): 4 blocks of 64/128/256/512 filters (1,2,2,2 convs), global "
        "average pooling, 4.6M parameters, several times the wide model's cost per image; AdamW lr 1e-3, weight decay "
        "5e-4, two warm-up epochs and cosine decay over 60 epochs, flips, rotations, shifts and zoom, mixed "
        "precision. Train it in the background on a CPU: it resumes where it stopped."
    ),
    widths=(64, 128, 256, 512),
    convs=(1, 2, 2, 2),
    block_dropout=0.2,
    head_dropout=0.5,
    epochs=60,
    learning_rate=1e-3,
    weight_decay=5e-4,
    warmup_epochs=2,
)

# The plain-face tail for the teacher too (issue: "with the same plain-face tail if it helps them too"): the same
# 4 epochs that took the wide model from 64.50% to 66.43% without teachers (wide-tail), here from teacher-vgg-60ep.
TEACHER_VGG_PLAIN_TAIL = replace(
    TEACHER_VGG,
    name="teacher-vgg-plain-tail",
    description=(
        "The teacher-vgg-60ep run fine-tuned for 4 epochs (AdamW lr 3e-4 cosine to zero, batch 64, flips only, "
        "labels alone) in mixed precision: the plain-face tail of the shipped recipes, for the teacher."
    ),
    **PLAIN_TAIL,
    init_from="teacher-vgg-60ep/{variant}-seed{seed}",
)

# A teacher of the kind that reaches about 73% on FER2013 in print (the guide: Khaireddin & Chen 2021): VGG
# with two convolutions per block and a dense head, SGD with Nesterov momentum, the learning rate cut on plateaus,
# strong shifts and zoom, random erasing, 300 epochs. Far beyond these 2 cores (teacher-vgg took 5.7 h for 60 epochs
# of a smaller model); meant for a lent GPU machine (README: Training on a lent GPU machine), where a run cut short
# by the job's time limit has followed its schedule (the plateau rule needs no epoch count) and resumes later.
TEACHER_VGGNET = replace(
    TEACHER_VGG,
    name="teacher-vggnet",
    description=(
        "A VGG teacher after Khaireddin & Chen (2021), not for the device: 4 blocks of two 3x3 convolutions "
        "(64/128/256/512 filters), max-pool after each, a 1024-unit dense head, 9.4M parameters; SGD lr 0.01 with "
        "Nesterov momentum 0.9 and weight decay 1e-4, the rate times 0.75 after 5 epochs without a better validation "
        "accuracy, batch 64, 300 epochs; flips, +-10 degree rotations, 20% shifts and zoom, random erasing on half "
        "the images; mixed precision. For a GPU machine."
    ),
    widths=(64, 128, 256, 512),
    convs=(2, 2, 2, 2),
    head="flatten_dense",
    dense_units=1024,
    block_dropout=0.0,
    head_dropout=0.5,
    epochs=300,
    batch_size=64,
    optimizer="sgd",
    learning_rate=0.01,
    schedule="plateau",
    weight_decay=1e-4,
    warmup_epochs=0,
    translate=0.2,
    zoom=0.2,
    erasing=0.5,
)

# A second teacher of the same training recipe with global average pooling instead of the dense head: half the
# parameters (its checkpoint and teacher-vggnet's fit together in what one GPU call hands back, 64 MiB), another
# architecture for the ensemble. Trained beside teacher-vggnet on the same GPU machine, one process each.
TEACHER_VGGNET_GAP = replace(
    TEACHER_VGGNET,
    name="teacher-vggnet-gap",
    description=(
        "teacher-vggnet's training (SGD + Nesterov, plateau cuts, flips, rotations, 20% shifts and zoom, random "
        "erasing, batch 64, 300 epochs, mixed precision) with global average pooling after the last block instead "
        "of its max-pool and 1024-unit dense head: 4.7M parameters. For a GPU machine."
    ),
    head="gap",
    head_dropout=0.3,
)

# The student of the stronger teacher: the shipped wide architecture (same cost on the device), distilled from
# teacher-vgg, then the plain-face tail with box jitter of the size the calibrated BlazeFace crops vary by (the
# quartiles in device/models/framing.json: side 1.03-1.25x the box around its 1.14x median, centre -0.13..-0.05 box
# heights: about +-10% zoom and +-4% shift of the crop). Both need teacher-vgg-60ep first (make train trains it).
# The teacher's targets average ten views of each face: on PublicTest teacher-vgg-60ep scored 67.04% with one view,
# 68.15% with the mirror image and 69.82% with ten (reports/ensemble/ensemble.md: python -m train.ensemble --data
# ../shared/data/fer2013-dev.csv.gz --members teacher-vgg-60ep/unweighted-seed0).
STUDENT_VGG = replace(
    WIDE_BF16,
    name="student-vgg",
    description=(
        "The wide model (the device's architecture) for 60 epochs in mixed precision, on targets half the one-hot "
        "label and half the softened (temperature 2) teacher-vgg-60ep prediction averaged over ten views of each "
        "image (the image and four corner crops, each mirrored). Needs the teacher run (trains it first)."
    ),
    epochs=60,
    teachers=("teacher-vgg-60ep/unweighted-seed0",),
    teacher_views="tencrop",
    distill_weight=0.5,
    distill_temperature=2.0,
)
STUDENT_VGG_TAIL = replace(
    STUDENT_VGG,
    name="student-vgg-tail",
    description=(
        "The student-vgg-60ep run of the same variant fine-tuned for 4 epochs (AdamW lr 3e-4 cosine to zero, batch "
        "64) on flips plus box jitter matched to the calibrated BlazeFace crops (+-10% zoom, +-4% shift), with the "
        "same teacher."
    ),
    **(PLAIN_TAIL | {"translate": 0.04, "zoom": 0.1}),  # box jitter of the calibrated crops' spread
    init_from="student-vgg-60ep/{variant}-seed{seed}",
)

# The same tail without the box jitter (flips only, as the shipped `finetuned` tail): what the jitter costs on dataset
# crops and buys on detector crops (python -m benchmarks compare, one candidate folder each).
STUDENT_VGG_PLAIN_TAIL = replace(
    STUDENT_VGG_TAIL,
    name="student-vgg-plain-tail",
    description=(
        "The student-vgg-60ep run of the same variant fine-tuned for 4 epochs (AdamW lr 3e-4 cosine to zero, batch "
        "64) on flips only, with the same teacher: student-vgg-tail without its box jitter."
    ),
    translate=0.0,
    zoom=0.0,
)

# The shipped model as the teacher of a new student of its own architecture ("born-again" distillation): its float32
# file is a better teacher than any run left on this machine (68.15% on PublicTest; with the compact-64ep study runs
# in the ensemble it scores lower, and ten-crop views lower it too), and it needs no teacher training first. The
# digest pins the file the recipe was written for (train.teachers). Then the same tails as student-vgg's.
SHIPPED_TEACHER = "models/unweighted_float32.tflite#sha256=e34666a8a414"
STUDENT_SHIPPED = replace(
    STUDENT_VGG,
    name="student-shipped",
    description=(
        "The wide model (the device's architecture) for 60 epochs in mixed precision, on targets half the one-hot "
        "label and half the softened (temperature 2) prediction of the model shipped before it "
        f"({SHIPPED_TEACHER}, run in the TFLite interpreter with the mirror averaging of its graph)."
    ),
    teachers=(SHIPPED_TEACHER,),
    teacher_views="mirror",
)
STUDENT_SHIPPED_TAIL = replace(
    STUDENT_VGG_TAIL,
    name="student-shipped-tail",
    description=(
        "The student-shipped-60ep run of the same variant fine-tuned for 4 epochs (AdamW lr 3e-4 cosine to zero, "
        "batch 64) on flips plus box jitter matched to the calibrated BlazeFace crops (+-10% zoom, +-4% shift), with "
        "the same teacher."
    ),
    teachers=STUDENT_SHIPPED.teachers,
    teacher_views=STUDENT_SHIPPED.teacher_views,
    init_from="student-shipped-60ep/{variant}-seed{seed}",
)
STUDENT_SHIPPED_PLAIN_TAIL = replace(
    STUDENT_SHIPPED_TAIL,
    name="student-shipped-plain-tail",
    description="student-shipped-tail without its box jitter (flips only).",
    translate=0.0,
    zoom=0.0,
)

# The two best teachers this machine has made, together: teacher-vgg-60ep over its ten views (69.82% on PublicTest
# the first time it was trained) and the shipped float32 model over the views its graph averages (68.15%): a student
# of the shipped architecture has learnt from each alone (student-vgg, student-shipped), not from both. Each teacher's
# views are pinned in its name (train.teachers): ten-crop lowers the shipped model (67.71%). Score them first with
# python -m train.ensemble --data ../shared/data/fer2013-dev.csv.gz --members
# teacher-vgg-60ep/unweighted-seed0@tencrop "models/unweighted_float32.tflite#sha256=e34666a8a414@one"
# --out reports/ensemble/vgg-shipped. Then the plain tail first: the jitter tail cost about a point on PublicTest's
# dataset crops with both earlier teachers.
DUO_TEACHERS = ("teacher-vgg-60ep/unweighted-seed0@tencrop", f"{SHIPPED_TEACHER}@one")
STUDENT_DUO = replace(
    STUDENT_VGG,
    name="student-duo",
    description=(
        "The wide model (the device's architecture) for 60 epochs in mixed precision, on targets half the one-hot "
        "label and half the softened (temperature 2) mean log-probability of two teachers: teacher-vgg-60ep over "
        "ten views of each image and the model shipped before it over the mirror averaging of its graph "
        f"({SHIPPED_TEACHER}). Needs the teacher run (trains it first)."
    ),
    teachers=DUO_TEACHERS,
)
STUDENT_DUO_PLAIN_TAIL = replace(
    STUDENT_VGG_PLAIN_TAIL,
    name="student-duo-plain-tail",
    description=(
        "The student-duo-60ep run of the same variant fine-tuned for 4 epochs (AdamW lr 3e-4 cosine to zero, batch "
        "64) on flips only, with the same two teachers."
    ),
    teachers=DUO_TEACHERS,
    init_from="student-duo-60ep/{variant}-seed{seed}",
)
STUDENT_DUO_TAIL = replace(
    STUDENT_VGG_TAIL,
    name="student-duo-tail",
    description="student-duo-plain-tail with box jitter matched to the calibrated BlazeFace crops (+-10% zoom, +-4% "
    "shift).",
    teachers=DUO_TEACHERS,
    init_from="student-duo-60ep/{variant}-seed{seed}",
)

# Students of the shipped architecture have landed at 65.3-65.7% (one view, before the tail) from every teacher tried
# (distilled: wide-40ep + compact-50ep; student-vgg: teacher-vgg, 69.82% over ten views; student-shipped: the shipped
# model, 68.15%): the student's size, not its teacher, looks like the limit. The issue
# allows a student of at most twice the classifier's cost, when the benchmark shows the classifier well under a
# quarter of the frame with BlazeFace (about a seventh with two views when this was written; a third, 1.26 of 3.97
# ms, on the AMD EPYC of session 37: docs/results.md, camera path). 44/88/176/352 filters are 1.9x the wide
# model's multiply-adds (141M against 75M a face, Recipe.cost: the plan prints it); shipped
# with one view, such a model costs the frame what the shipped model's two views cost now.
DUO_2X_WIDTHS = (44, 88, 176, 352)
STUDENT_DUO_2X = replace(
    STUDENT_DUO,
    name="student-duo-2x",
    description=(
        "student-duo with 44/88/176/352 filters (1.9x the wide model's multiply-adds, about 1.1M parameters): the "
        "largest student the issue allows, meant to ship with one view. Needs the teacher run (trains it first)."
    ),
    widths=DUO_2X_WIDTHS,
)
STUDENT_DUO_2X_PLAIN_TAIL = replace(
    STUDENT_DUO_PLAIN_TAIL,
    name="student-duo-2x-plain-tail",
    description="The student-duo-2x-60ep run of the same variant with student-duo-plain-tail's 4 epochs.",
    widths=DUO_2X_WIDTHS,
    init_from="student-duo-2x-60ep/{variant}-seed{seed}",
)
STUDENT_DUO_2X_TAIL = replace(
    STUDENT_DUO_TAIL,
    name="student-duo-2x-tail",
    description="The student-duo-2x-60ep run of the same variant with student-duo-tail's 4 epochs (box jitter).",
    widths=DUO_2X_WIDTHS,
    init_from="student-duo-2x-60ep/{variant}-seed{seed}",
)

# student-duo-2x cleared the ship rule on PublicTest (unweighted), but it cannot ship: 1.09M parameters make the eight
# committed models about 17 MB, and the shipped models must stay well under 10 MB together (8.9 MiB now;
# tests/device/test_shipped_models.py). The size budget is in parameters, the cost budget in multiply-adds: a 3x3
# convolution has the same parameters at any size but 4x the multiply-adds a face at twice the side, and the wide
# model keeps 90% of its parameters in the 12x12 and 6x6 blocks. So this student adds convolutions where they are
# cheap in parameters (a second one at 48x48, a third at 24x24) and narrows the last block to 208 filters: 567k
# parameters (0.98x the shipped model's), 115M multiply-adds (1.54x).
DEEP_WIDTHS, DEEP_CONVS = (32, 64, 128, 208), (2, 3, 2, 1)
STUDENT_DUO_DEEP = replace(
    STUDENT_DUO,
    name="student-duo-deep",
    description=(
        "student-duo with two convolutions at 48x48, three at 24x24 and 208 filters in the last block: no more "
        "parameters than the shipped model (567k), 1.54x its multiply-adds. Needs the teacher run (trains it first)."
    ),
    widths=DEEP_WIDTHS,
    convs=DEEP_CONVS,
)
STUDENT_DUO_DEEP_PLAIN_TAIL = replace(
    STUDENT_DUO_PLAIN_TAIL,
    name="student-duo-deep-plain-tail",
    description="The student-duo-deep-60ep run of the same variant with student-duo-plain-tail's 4 epochs.",
    widths=DEEP_WIDTHS,
    convs=DEEP_CONVS,
    init_from="student-duo-deep-60ep/{variant}-seed{seed}",
)

# Twice now a rebuilt checkout lost the teacher-vgg run (runs/ is not committed), and with it every student chain that
# named it: 3.5 to 5.7 hours of these 2 cores each time. So the teacher is trained once more (40 epochs, to fit one
# session) and kept as a committed model file (float16 weights, one view; python -m convert --recipe teacher-vgg
# --epochs 40 --variants unweighted --formats float16 --no-mirror --out models/teachers/teacher-vgg-40ep), and its
# students name the file: a fresh checkout trains only the student, and the teachers' predictions are kept too
# (train.distill.KEPT_TARGETS, committed after the first student run writes them).
KEPT_VGG_TEACHER = "models/teachers/teacher-vgg-40ep/unweighted_float16.tflite#sha256=fcc89512a930"
KEPT_DUO_TEACHERS = (f"{KEPT_VGG_TEACHER}@tencrop", f"{SHIPPED_TEACHER}@one")
STUDENT_DEEP = replace(
    STUDENT_DUO_DEEP,
    name="student-deep",
    description=(
        "student-duo-deep taught by committed model files alone: teacher-vgg-40ep kept as a float16 model over ten "
        "views of each image, and the model shipped before it over the mirror averaging of its graph. Nothing to "
        "train first."
    ),
    teachers=KEPT_DUO_TEACHERS,
)
STUDENT_DEEP_PLAIN_TAIL = replace(
    STUDENT_DUO_DEEP_PLAIN_TAIL,
    name="student-deep-plain-tail",
    description="The student-deep-60ep run of the same variant with student-duo-plain-tail's 4 epochs.",
    teachers=KEPT_DUO_TEACHERS,
    init_from="student-deep-60ep/{variant}-seed{seed}",
)
# The same base with the box-jitter tail: the jittered students so far closed the camera path's crop shortfall
# (issue 16) while losing about a point on PublicTest's dataset crops; from a base that starts ahead, both may hold.
STUDENT_DEEP_TAIL = replace(
    STUDENT_DUO_TAIL,
    name="student-deep-tail",
    description="The student-deep-60ep run of the same variant with student-duo-tail's 4 epochs (box jitter).",
    widths=DEEP_WIDTHS,
    convs=DEEP_CONVS,
    teachers=KEPT_DUO_TEACHERS,
    init_from="student-deep-60ep/{variant}-seed{seed}",
)

# The same tail with box jitter as wide as the calibrated crops really vary. student-deep-tail's +-10% zoom and +-4%
# shift (uniform) have standard deviations of 0.058 in log side and 0.023 of the crop; the per-face transform between
# BlazeFace's calibrated crop and the dataset crop (device/models/framing.json, Training faces) has quartiles of
# 1.04-1.25 in side (about 0.14 in log side) and 0.07-0.09 box sides in centre (about 0.05 of the crop). Uniform
# +-25% zoom and +-8% shift match that spread. Tried for the unweighted variant: it did not narrow the crop shortfall
# (issue 16) and lost on both kinds of crop (reports/compare/student-deep-matched-tail-2view/compare.md).
STUDENT_DEEP_MATCHED_TAIL = replace(
    STUDENT_DEEP_TAIL,
    name="student-deep-matched-tail",
    description=(
        "The student-deep-60ep run of the same variant with student-duo-tail's 4 epochs, its box jitter widened to "
        "the calibrated crops' measured spread (+-25% zoom, +-8% shift)."
    ),
    translate=0.08,
    zoom=0.25,
)

# The shipped tail on the device's own crops too. Box jitter drawn at random (student-deep-tail, -matched-tail) has not
# closed the camera path's crop shortfall (issue 16): the detector frames each face its own way (an open mouth
# lengthens the box, a turned head shifts it), and that error follows the face, not a uniform draw. Here half the
# training images (drawn anew each epoch, before the jitter) are replaced by the crop BlazeFace's calibrated framing
# cut of that face on a canvas (python -m benchmarks device-crops: the camera benchmark's placements, Training faces,
# another seed). Tried (unweighted): shortfall 0.64 pp, calibrated crops +0.30 pp, PublicTest -0.42 pp: kept out
# (docs/recipes.md).
STUDENT_DEEP_DEVICE_TAIL = replace(
    STUDENT_DEEP_TAIL,
    name="student-deep-device-tail",
    description=(
        "The student-deep-60ep run of the same variant with student-deep-tail's 4 epochs (box jitter), each training "
        "image replaced with probability 0.5 by BlazeFace's calibrated crop of that face placed on a canvas. Needs "
        "the crops: make device-crops DATA=..."
    ),
    device_crops="blazeface",
    device_crop_share=0.5,
)

# The same with a quarter of the images swapped: does a smaller share keep the dataset crops' accuracy and still
# narrow the shortfall? Tried (unweighted): worse on both kinds of crop (docs/recipes.md).
STUDENT_DEEP_DEVICE_QUARTER_TAIL = replace(
    STUDENT_DEEP_DEVICE_TAIL,
    name="student-deep-device-quarter-tail",
    description=(
        "student-deep-device-tail with each training image replaced with probability 0.25 (not 0.5) by BlazeFace's "
        "calibrated crop of that face. Needs the crops: make device-crops DATA=..."
    ),
    device_crop_share=0.25,
)

# Device crops from the start: student-deep's 60 epochs with half the images swapped for BlazeFace's calibrated crops
# (before the augmentation), then the device tail from that run. The teachers' targets stay those of the dataset
# crop, so the student learns to say on the camera's crop what the teachers say on FER2013's. Tried (unweighted):
# calibrated crops +0.69 pp, shortfall 0.39 pp, PublicTest -0.31 pp: kept out (docs/recipes.md).
STUDENT_DEVICE = replace(
    STUDENT_DEEP,
    name="student-device",
    description=(
        "student-deep (60 epochs, the two kept teachers) with each training image replaced with probability 0.5 by "
        "BlazeFace's calibrated crop of that face placed on a canvas. Needs the crops: make device-crops DATA=..."
    ),
    device_crops="blazeface",
    device_crop_share=0.5,
)
STUDENT_DEVICE_TAIL = replace(
    STUDENT_DEEP_DEVICE_TAIL,
    name="student-device-tail",
    description="The student-device-60ep run of the same variant with student-deep-device-tail's 4 epochs.",
    init_from="student-device-60ep/{variant}-seed{seed}",
)

# The device-crop base with the shipped tail (box jitter, the dataset's crops alone): do the 60 epochs on device crops
# carry the camera's gain through a tail that wins back the dataset crops? Tried (unweighted): calibrated crops
# +0.64 pp, PublicTest -0.11 pp: short of the ship rule's +0.5 pp, kept out (docs/recipes.md).
STUDENT_DEVICE_JITTER_TAIL = replace(
    STUDENT_DEEP_TAIL,
    name="student-device-jitter-tail",
    description="The student-device-60ep run of the same variant with student-deep-tail's 4 epochs (box jitter, no "
    "device crops).",
    init_from="student-device-60ep/{variant}-seed{seed}",
)

# The device-crop base with the plain-face tail (flips only), with and without the device's crops in it. From
# student-deep-60ep the plain tail scored best on PublicTest's own crops (+0.61 pp on the shipped model) but lost on
# the camera's crops and the smaller-box jitter row; the device base carried the camera's gain through a tail without
# device crops. Do the two add up? Tried (unweighted): on PublicTest +0.81 pp with one view (69.80%), +0.20 with two,
# on the calibrated crops +0.89 / +1.13 pp (the most yet), but the box-15%-smaller jitter row -1.42 / -1.62 pp; with
# device crops in the tail +0.11 pp, +0.49 pp, -0.61 pp: none kept (docs/recipes.md).
STUDENT_DEVICE_PLAIN_TAIL = replace(
    STUDENT_DEEP_PLAIN_TAIL,
    name="student-device-plain-tail",
    description="The student-device-60ep run of the same variant with student-deep-plain-tail's 4 epochs (flips "
    "only, no device crops).",
    init_from="student-device-60ep/{variant}-seed{seed}",
)
STUDENT_DEVICE_PLAIN_DEVICE_TAIL = replace(
    STUDENT_DEVICE_PLAIN_TAIL,
    name="student-device-plain-device-tail",
    description=(
        "The student-device-60ep run of the same variant with student-deep-plain-tail's 4 epochs (flips only), each "
        "training image replaced with probability 0.5 by BlazeFace's calibrated crop of that face. Needs the crops: "
        "make device-crops DATA=..."
    ),
    device_crops="blazeface",
    device_crop_share=0.5,
)

def reseeded(recipe: Recipe) -> Recipe:
    """``recipe`` started from its ``init_from`` run's seed 0 whatever ``--seed`` is: its own epochs (a tail) on other
    seeds of their own (shuffling, augmentation), the base held fixed, to measure how far one recipe moves by chance."""
    if "{seed}" not in recipe.init_from:
        raise ValueError(f"recipe {recipe.name!r}: no seeded init_from to hold at seed 0")
    return replace(recipe, name=f"{recipe.name}-reseeded",
                   description=f"{recipe.name} from {recipe.init_from.split('/')[0]}'s seed-0 run whatever --seed "
                   "is: its tail on other seeds of its own.",
                   init_from=recipe.init_from.replace("{seed}", "0"))


def reseeded_soup(tail: Recipe, plain_tail: Recipe) -> tuple[str, ...]:
    """The four runs a two-tail soup of two seeds averages: ``tail`` and ``plain_tail`` on seed 0 and their
    :func:`reseeded` runs on seed 1 (``{variant}`` filled in per run), whatever ``--seed`` is."""
    return tuple(f"{recipe.name}{suffix}-{recipe.epochs}ep/{{variant}}-seed{seed}"
                 for seed, suffix in ((0, ""), (1, "-reseeded")) for recipe in (tail, plain_tail))


# The shipped tail again from the same shipped base, on other seeds of its own (`--seed 1`, `--seed 2`: the tail's
# shuffling and box jitter; the base stays seed 0's run): how far do PublicTest, the calibrated crops and the jitter
# rows move between two runs of the same 4 epochs? The ship rule's 0.5 pp and issue 16's 1 pp shortfall sit at
# that scale. Measured (unweighted, int8, two views; seed 0 is the shipped run): PublicTest 68.99 / 68.32 / 68.54,
# calibrated crops 68.88 / 68.39 / 68.83, shortfall 1.33 / 1.43 / 0.79 pp (docs/recipes.md).
STUDENT_DEEP_TAIL_RESEEDED = reseeded(STUDENT_DEEP_TAIL)

# Likewise the best candidate on both kinds of crop so far, student-device-plain-tail (kept out by the jitter rule):
# are its gains more than its tail's luck? Measured (one view, seeds 0/1/2): PublicTest 69.80 / 69.63 / 69.85,
# calibrated crops 69.77 / 69.77 / 70.41 (the shipped recipe's runs: 68.62 and 68.70 on average), box-15%-smaller
# row -1.42 / -2.06 / -1.53 pp: a steady trade, not luck (docs/recipes.md).
STUDENT_DEVICE_PLAIN_TAIL_RESEEDED = reseeded(STUDENT_DEVICE_PLAIN_TAIL)

# The same two teachers on a schedule that fits a GPU lease and does not stand still: on the H200 the plateau rule
# cut the rate below 1e-4 by epoch ~130-160 of 300, and nothing moved after (reports/teachers/*/history.png). A
# warm-up then cosine to zero over 120 epochs (about 3.5 minutes side by side there) spends every epoch learning.
# teacher-vggnet-cosine trained on the CPU in sessions 29-30 and was lost with a rebuilt checkout at 84 of 120 epochs;
# teacher-vggnet-gap-cosine trained on the CPU in sessions 31-35, carried across checkouts (train.carry), and finished.
TEACHER_VGGNET_COSINE = replace(
    TEACHER_VGGNET,
    name="teacher-vggnet-cosine",
    description="teacher-vggnet with a 3-epoch warm-up, then the rate cosine to zero over 120 epochs instead of "
    "plateau cuts over 300. For a GPU machine.",
    epochs=120,
    schedule="cosine",
    warmup_epochs=3,
)
TEACHER_VGGNET_GAP_COSINE = replace(
    TEACHER_VGGNET_GAP,
    name="teacher-vggnet-gap-cosine",
    description="teacher-vggnet-gap with a 3-epoch warm-up, then the rate cosine to zero over 120 epochs instead of "
    "plateau cuts over 300. Made for a GPU machine; trained on 2 CPU cores in 13 hours of epochs.",
    epochs=120,
    schedule="cosine",
    warmup_epochs=3,
)

# Issue 20's stronger teachers, trained on a lent H200 (README: Training on a lent GPU machine): teacher-vggnet and
# teacher-vggnet-gap, 273 and 290 of their 300 epochs side by side in 516 and 539 s, kept as float16 model files
# (python -m convert --recipe teacher-vggnet[-gap] --epochs 300 --variants unweighted --formats float16 --no-mirror
# --out models/teachers/teacher-vggnet[-gap]-gpu --data ...). On PublicTest with ten views each they score 70.05 and
# 69.43%, their ensemble 71.13%, against 68.57% for the pair that taught the shipped student
# (reports/ensemble/vggnet-gpu, reports/ensemble/vgg40-shipped). The shipped student's architecture and chain,
# taught by them; their ten-view predictions of the Training faces are kept (train.distill.KEPT_TARGETS).
VGGNET_TEACHERS = (
    "models/teachers/teacher-vggnet-gpu/unweighted_float16.tflite#sha256=4dce03f6c499@tencrop",
    "models/teachers/teacher-vggnet-gap-gpu/unweighted_float16.tflite#sha256=f61ad2f98951@tencrop",
)
STUDENT_VGGNET = replace(
    STUDENT_DEEP,
    name="student-vggnet",
    description=(
        "student-deep (the shipped architecture, 60 epochs) taught by the two GPU-trained teachers kept as float16 "
        "model files, teacher-vggnet and teacher-vggnet-gap, each over ten views of every image. Nothing to train "
        "first."
    ),
    teachers=VGGNET_TEACHERS,
)
STUDENT_VGGNET_TAIL = replace(
    STUDENT_DEEP_TAIL,
    name="student-vggnet-tail",
    description="The student-vggnet-60ep run of the same variant with student-duo-tail's 4 epochs (box jitter), as "
    "the shipped chain.",
    teachers=VGGNET_TEACHERS,
    init_from="student-vggnet-60ep/{variant}-seed{seed}",
)
STUDENT_VGGNET_PLAIN_TAIL = replace(
    STUDENT_DEEP_PLAIN_TAIL,
    name="student-vggnet-plain-tail",
    description="The student-vggnet-60ep run of the same variant with student-duo-plain-tail's 4 epochs (flips only).",
    teachers=VGGNET_TEACHERS,
    init_from="student-vggnet-60ep/{variant}-seed{seed}",
)
# The two tails pull two ways (reports/compare/student-vggnet-*-2view): flips only gains on PublicTest's own crops
# and loses on boxes 15% smaller; box jitter the reverse, and wins on the detector's crops. Both start from one
# checkpoint, so their weights can be averaged; the mix is the plain mean, fixed before it was scored.
STUDENT_VGGNET_SOUP = replace(
    STUDENT_DEEP,
    name="student-vggnet-soup",
    description="The weight average of the student-vggnet-tail and student-vggnet-plain-tail runs of the same variant "
    "and seed (both 4-epoch tails of one student-vggnet-60ep run); nothing trained, trains both tails first.",
    epochs=0,
    teachers=(),
    distill_weight=0.0,
    precision="float32",
    soup=("student-vggnet-tail-4ep/{variant}-seed{seed}", "student-vggnet-plain-tail-4ep/{variant}-seed{seed}"),
)

# Both variants of that soup were judged together (reports/compare/student-vggnet-soup-both): PublicTest +0.50 and
# +0.70 pp, every jitter row no worse, but the weighted soup 0.34 pp below the shipped weighted model on the
# detector's calibrated crops, so the rule kept it out. Two tails of one recipe differ by about a point by their
# seeds alone (student-deep-tail-reseeded), and a soup of more fine-tunings from one start is the usual remedy
# (Wortsman et al.'s uniform soup): each tail once more on seed 1 of its own, from the same seed-0 60-epoch run,
# and the plain mean of the four, fixed before it was scored.
STUDENT_VGGNET_TAIL_RESEEDED = reseeded(STUDENT_VGGNET_TAIL)
STUDENT_VGGNET_PLAIN_TAIL_RESEEDED = reseeded(STUDENT_VGGNET_PLAIN_TAIL)
STUDENT_VGGNET_SOUP4 = replace(
    STUDENT_VGGNET_SOUP,
    name="student-vggnet-soup4",
    description="The weight average of four 4-epoch tails of one student-vggnet-60ep run (seed 0) of the same "
    "variant: student-vggnet-tail and student-vggnet-plain-tail on seed 0, their -reseeded runs on seed 1, whatever "
    "--seed is; nothing trained, trains the four tails first.",
    soup=reseeded_soup(STUDENT_VGGNET_TAIL, STUDENT_VGGNET_PLAIN_TAIL),
)

# A second cosine cycle for the student (a warm restart, Loshchilov & Hutter's SGDR), fixed before it was scored. The
# students taught by the GPU teachers end their 60 epochs at 76% training accuracy on augmented faces while the
# teachers' ensemble scores 85.7% on the same faces and the validation curve has flattened under the decaying rate
# (runs/student-vggnet-60ep/*/log.csv): the student is still short of matching its teachers, and distillation rewards
# a patient schedule (Beyer et al. 2022, "a good teacher is patient and consistent"). So 30 more epochs of the same
# distillation and augmentation from the 60-epoch run's best checkpoint, the rate warming up to half the first
# cycle's peak and back to zero; then the same two tails and their weight average, judged by the unchanged ship rule.
# Judged (reports/compare/student-vggnet-restart-soup-both): int8 69.94% / 68.65% against 68.99% / 67.32%, every
# jitter row and the detector's calibrated crops better: shipped in session 28 (docs/recipes.md).
STUDENT_VGGNET_RESTART = replace(
    STUDENT_VGGNET,
    name="student-vggnet-restart",
    description=(
        "30 more epochs of student-vggnet's distillation from the student-vggnet-60ep run of the same variant: a "
        "second cosine cycle (1-epoch warm-up to lr 1e-3, half the first cycle's peak, then cosine to zero)."
    ),
    epochs=30,
    learning_rate=1e-3,
    init_from="student-vggnet-60ep/{variant}-seed{seed}",
)
STUDENT_VGGNET_RESTART_TAIL = replace(
    STUDENT_VGGNET_TAIL,
    name="student-vggnet-restart-tail",
    description="The student-vggnet-restart-30ep run of the same variant with student-duo-tail's 4 epochs (box "
    "jitter).",
    init_from="student-vggnet-restart-30ep/{variant}-seed{seed}",
)
STUDENT_VGGNET_RESTART_PLAIN_TAIL = replace(
    STUDENT_VGGNET_PLAIN_TAIL,
    name="student-vggnet-restart-plain-tail",
    description="The student-vggnet-restart-30ep run of the same variant with student-duo-plain-tail's 4 epochs "
    "(flips only).",
    init_from="student-vggnet-restart-30ep/{variant}-seed{seed}",
)
STUDENT_VGGNET_RESTART_SOUP = replace(
    STUDENT_VGGNET_SOUP,
    name="student-vggnet-restart-soup",
    description="The weight average of the student-vggnet-restart-tail and student-vggnet-restart-plain-tail runs of "
    "the same variant and seed; nothing trained, trains both tails (and the 30-epoch restart) first.",
    soup=("student-vggnet-restart-tail-4ep/{variant}-seed{seed}",
          "student-vggnet-restart-plain-tail-4ep/{variant}-seed{seed}"),
)

# The two cosine cycles' ends averaged, fixed before it was scored (session 29): stochastic weight averaging
# (Izmailov et al. 2018) averages the checkpoints a cyclic learning rate ends its cycles on, which lie in one basin
# and whose mean sits nearer its centre; here both cycles' tails (student-vggnet-60ep's and the restart's, all four
# from one 60-epoch run, so one basin) go into one uniform soup. It trains nothing: the four tails exist.
# Judged (reports/compare/student-vggnet-cycles-soup-both): int8 69.71% / 68.46%, 0.22 / 0.20 pp below the shipped
# soup, every jitter row worse: kept out.
STUDENT_VGGNET_CYCLES_SOUP = replace(
    STUDENT_VGGNET_SOUP,
    name="student-vggnet-cycles-soup",
    description="The weight average of the four tails of both cosine cycles of the same variant and seed: "
    "student-vggnet-tail and -plain-tail (after the 60-epoch cycle) and student-vggnet-restart-tail and "
    "-restart-plain-tail (after the 30-epoch restart); nothing trained, trains them (and their cycles) first.",
    soup=("student-vggnet-tail-4ep/{variant}-seed{seed}", "student-vggnet-plain-tail-4ep/{variant}-seed{seed}",
          "student-vggnet-restart-tail-4ep/{variant}-seed{seed}",
          "student-vggnet-restart-plain-tail-4ep/{variant}-seed{seed}"),
)

# Issue 20's third teacher: teacher-vggnet-gap-cosine, 120 epochs trained on these CPUs over sessions 31-35 and
# carried between checkouts (docs/recipes.md), kept as a float16 model file (python -m convert --recipe
# teacher-vggnet-gap-cosine --epochs 120 --variants unweighted --formats float16 --no-mirror --out
# models/teachers/teacher-vggnet-gap-cosine-cpu --data ...). The shipped chain (student-vggnet-restart and its two tails
# and soup, from the same student-vggnet-60ep runs) changed in its teachers alone, so the comparison with the shipped
# soup measures the third teacher and nothing else; fixed in session 30 before the teacher finished or anything of it
# was scored. Only the new teacher predicts: the pair's ten-view predictions are kept (train.distill).
CPU_TEACHER = "models/teachers/teacher-vggnet-gap-cosine-cpu/unweighted_float16.tflite#sha256=9a7b6496b5b4@tencrop"
VGGNET3_TEACHERS = (*VGGNET_TEACHERS, CPU_TEACHER)


def retaught(recipe: Recipe, teachers: tuple[str, ...], chain: str, renamed: str) -> Recipe:
    """``recipe`` with other ``teachers`` (a recipe that distils none, a soup, keeps none): its name and the runs of
    its ``chain`` it starts from or averages renamed to ``renamed``'s, so the chain trains again under the new
    teachers; runs from before the chain (its base) are kept as they are."""

    def rename(text: str) -> str:
        return text.replace(chain, renamed)

    return replace(recipe, name=rename(recipe.name),
                   description=f"{recipe.name}, its chain trained again as {renamed} with {len(teachers)} teachers.",
                   teachers=teachers if recipe.teachers else (), init_from=rename(recipe.init_from),
                   soup=tuple(rename(run) for run in recipe.soup))


(STUDENT_VGGNET3_RESTART, STUDENT_VGGNET3_RESTART_TAIL, STUDENT_VGGNET3_RESTART_PLAIN_TAIL,
 STUDENT_VGGNET3_RESTART_SOUP) = (
    retaught(r, VGGNET3_TEACHERS, "student-vggnet-restart", "student-vggnet3-restart")
    for r in (STUDENT_VGGNET_RESTART, STUDENT_VGGNET_RESTART_TAIL, STUDENT_VGGNET_RESTART_PLAIN_TAIL,
              STUDENT_VGGNET_RESTART_SOUP)
)

# Judged on its unweighted variant (session 36; the weighted restart was then stopped, the rule needing the unweighted
# gain whatever the weighted variant does): the three-teacher soup
# scores 69.35% in Keras (one view) against the shipped soup's 68.82%, but as int8 with two views 70.13% against
# 70.10%: +0.03 pp, short of the rule's 0.5, so it does not ship on its own. Fixed then, before it was scored: the
# two restart chains are sibling fine-tunings of one student-vggnet-60ep checkpoint under different teachers, the
# case uniform soups were made for (Wortsman et al.), so the plain mean of both chains' four tails, judged by the
# unchanged rule. Chosen after the three-teacher soup's PublicTest figures were read, so part of any gain is that
# choice; the withheld PrivateTest run is the check.
# Scored: 69.21% in Keras (one view), int8 70.02% with two views, below the shipped 70.10%: kept out.
STUDENT_VGGNET_RESTARTS_SOUP = replace(
    STUDENT_VGGNET_SOUP,
    name="student-vggnet-restarts-soup",
    description="The weight average of the four tails of both 30-epoch restarts of the same variant and seed: "
    "student-vggnet-restart-tail and -plain-tail (two teachers) and student-vggnet3-restart-tail and -plain-tail "
    "(three teachers); nothing trained, trains them (and their restarts) first.",
    soup=("student-vggnet-restart-tail-4ep/{variant}-seed{seed}",
          "student-vggnet-restart-plain-tail-4ep/{variant}-seed{seed}",
          "student-vggnet3-restart-tail-4ep/{variant}-seed{seed}",
          "student-vggnet3-restart-plain-tail-4ep/{variant}-seed{seed}"),
)

# A third cosine cycle, fixed in session 38 before it was trained or scored. The second cycle (student-vggnet-restart)
# is what ships: its 30 epochs lifted the 60-epoch base by 0.42 pp (unweighted) and 0.92 pp (weighted) in Keras, one
# view, and it still ends short of its teachers on the training faces (78% on augmented faces against their ensemble's
# 85.7%; reports/students/student-vggnet-restart-30ep/*/log.csv), so the student is not yet where patient distillation
# (Beyer et al. 2022) says it can go. The same 30 epochs once more, from the restart's best checkpoint of the same
# variant, then the same two tails and their plain weight average, changed in nothing else; judged by the unchanged
# ship rule against the shipped soup (python -m benchmarks compare), unweighted first (the rule needs its gain).
# Judged on its unweighted variant (session 38; reports/compare/student-vggnet-restart2-soup-unweighted): the third
# cycle reached 67.12% in Keras, one view (the second: 66.87%), the soup 69.10% (the shipped soup: 68.82%), float32
# with two views 70.47% (70.05%), but int8 70.21% against 70.10%: +0.11 pp, short of the rule's 0.5, two jitter rows
# worse: kept out, and the weighted chain stopped after its first epoch (its folder resumes with the same command).
STUDENT_VGGNET_RESTART2 = replace(
    STUDENT_VGGNET_RESTART,
    name="student-vggnet-restart2",
    description="student-vggnet-restart's 30 epochs (a warm restart to lr 1e-3, then cosine to zero) once more, from "
    "the student-vggnet-restart-30ep run of the same variant: a third cosine cycle.",
    init_from="student-vggnet-restart-30ep/{variant}-seed{seed}",
)
STUDENT_VGGNET_RESTART2_TAIL = replace(
    STUDENT_VGGNET_RESTART_TAIL,
    name="student-vggnet-restart2-tail",
    description="The student-vggnet-restart2-30ep run of the same variant with student-duo-tail's 4 epochs (box "
    "jitter).",
    init_from="student-vggnet-restart2-30ep/{variant}-seed{seed}",
)
STUDENT_VGGNET_RESTART2_PLAIN_TAIL = replace(
    STUDENT_VGGNET_RESTART_PLAIN_TAIL,
    name="student-vggnet-restart2-plain-tail",
    description="The student-vggnet-restart2-30ep run of the same variant with student-duo-plain-tail's 4 epochs "
    "(flips only).",
    init_from="student-vggnet-restart2-30ep/{variant}-seed{seed}",
)
STUDENT_VGGNET_RESTART2_SOUP = replace(
    STUDENT_VGGNET_RESTART_SOUP,
    name="student-vggnet-restart2-soup",
    description="The weight average of the student-vggnet-restart2-tail and student-vggnet-restart2-plain-tail runs "
    "of the same variant and seed; nothing trained, trains both tails (and the third cycle) first.",
    soup=("student-vggnet-restart2-tail-4ep/{variant}-seed{seed}",
          "student-vggnet-restart2-plain-tail-4ep/{variant}-seed{seed}"),
)

# Deferred re-weighting for the weighted variant, fixed in session 39 before it was trained or scored. The shipped
# weighted student applies the class weights w_k = N / (K * N_k) through all of its chain (60 + 30 distillation
# epochs and the 4-epoch tails) and scores 68.68% as int8 against the unweighted student's 70.10%. The long-tailed
# recognition literature finds re-weighting hurts most while the features are learned and helps when it is deferred
# to the last stage (Cao et al. 2019, deferred re-weighting, "DRW"; Kang et al. 2020, decoupling the classifier):
# learn the features on the data as it comes, then re-balance. So the shipped chain's two tails (box jitter, flips
# only; the same teachers, rate, epochs and augmentation) trained with the class weights from the shipped UNWEIGHTED
# soup's checkpoint, and their plain weight average, for the weighted variant only (an unweighted run of these
# recipes would only be one more tail of the shipped soup). Judged by the rule for a weighted-only candidate
# (benchmarks.compare.WEIGHTED_RULE, written down with these recipes): the weighted int8 model gains at least 0.5 pp
# on PublicTest, no face-box jitter row and no calibrated-crop accuracy worse than the shipped weighted model's, and
# its balanced accuracy not below the shipped weighted model's (the weights must still do what they are for); the
# unweighted model stays as it is.
# Judged (session 39; reports/compare/student-vggnet-deferred-soup-weighted): int8 69.85% against 68.68% (+1.17 pp,
# 95% interval +0.08 to +2.26), every jitter row better (+0.86 to +1.98 pp), the detector's calibrated crops +1.53 pp
# (+0.08 to +2.97), but balanced accuracy 67.45% against 67.54% (-0.10 pp): kept out by the balance test.
DEFERRED_FROM = "student-vggnet-restart-soup-0ep/unweighted-seed{seed}"
STUDENT_VGGNET_DEFERRED_TAIL = replace(
    STUDENT_VGGNET_RESTART_TAIL,
    name="student-vggnet-deferred-tail",
    description="student-vggnet-restart-tail's 4 epochs (box jitter) from the shipped unweighted soup "
    "(student-vggnet-restart-soup-0ep/unweighted): with --variants weighted, class weights deferred to the last "
    "stage.",
    init_from=DEFERRED_FROM,
)
STUDENT_VGGNET_DEFERRED_PLAIN_TAIL = replace(
    STUDENT_VGGNET_RESTART_PLAIN_TAIL,
    name="student-vggnet-deferred-plain-tail",
    description="student-vggnet-restart-plain-tail's 4 epochs (flips only) from the shipped unweighted soup "
    "(student-vggnet-restart-soup-0ep/unweighted): with --variants weighted, class weights deferred to the last "
    "stage.",
    init_from=DEFERRED_FROM,
)
STUDENT_VGGNET_DEFERRED_SOUP = replace(
    STUDENT_VGGNET_RESTART_SOUP,
    name="student-vggnet-deferred-soup",
    description="The weight average of the student-vggnet-deferred-tail and student-vggnet-deferred-plain-tail runs "
    "of the same variant and seed (meant for --variants weighted); nothing trained, trains both tails first.",
    soup=("student-vggnet-deferred-tail-4ep/{variant}-seed{seed}",
          "student-vggnet-deferred-plain-tail-4ep/{variant}-seed{seed}"),
)

# Fixed in session 39 after the deferred soup above was judged, and so chosen knowing it missed the balance test by
# 0.10 pp (less than one of PublicTest's 56 disgust faces moves balanced accuracy by 0.25 pp) while gaining on every
# other row: what one pair of 4-epoch tails scores moves by chance (two runs of one tail recipe differ by about a
# point: student-deep-tail-reseeded), and the uniform soup of more fine-tunings of one start is the usual remedy
# (Wortsman et al.; student-vggnet-soup4 did the same for the unweighted chain). Each deferred tail once more on seed
# 1 of its own from the same seed-0 soup, and the plain mean of the four, judged by the unchanged WEIGHTED_RULE. The
# withheld PrivateTest run is the check on this second look.
# Judged (session 39; reports/compare/student-vggnet-deferred-soup4-weighted): int8 69.91% against 68.68% (+1.23 pp,
# 95% interval +0.14 to +2.31), balanced accuracy 67.64% against 67.54%, every jitter row better (+1.20 to +2.26 pp),
# the detector's calibrated crops +1.92 pp (+0.49 to +3.35), the same cost: shipped as the weighted model.
STUDENT_VGGNET_DEFERRED_TAIL_RESEEDED = reseeded(STUDENT_VGGNET_DEFERRED_TAIL)
STUDENT_VGGNET_DEFERRED_PLAIN_TAIL_RESEEDED = reseeded(STUDENT_VGGNET_DEFERRED_PLAIN_TAIL)
STUDENT_VGGNET_DEFERRED_SOUP4 = replace(
    STUDENT_VGGNET_DEFERRED_SOUP,
    name="student-vggnet-deferred-soup4",
    description="The weight average of four deferred tails of the shipped unweighted soup (seed 0) of the same "
    "variant (meant for --variants weighted): student-vggnet-deferred-tail and -plain-tail on seed 0, their "
    "-reseeded runs on seed 1, whatever --seed is; nothing trained, trains the four tails first.",
    soup=reseeded_soup(STUDENT_VGGNET_DEFERRED_TAIL, STUDENT_VGGNET_DEFERRED_PLAIN_TAIL),
)

# Issue 16's camera path, fixed in session 40 before it was trained or scored. The shipped unweighted soup falls 1.33
# pp short on BlazeFace's calibrated crops (the target: 1 pp); the device-crop tail halved the shortfall of the
# student-deep chain but cost PublicTest 0.42 pp as a single model (student-deep-device-tail). A weight average keeps
# what each member learned (Wortsman et al. 2022; the shipped soup is one): here the shipped soup with its box-jitter
# tail replaced by the same tail shown the device's own crops of half the training faces, so the comparison measures
# the device crops alone. Unweighted only (the demo's model; the weighted one shipped in session 39), judged by
# benchmarks.compare.CAMERA_RULE, written down with it: no lower on PublicTest, +0.5 pp on the calibrated crops, the
# shortfall within the 1 pp, no jitter row worse.
# Judged (session 40; reports/compare/student-vggnet-restart-device-soup-unweighted): int8 69.82% against 70.10%
# (-0.28 pp), the calibrated crops 70.21% against 70.31% (-0.10 pp; the shortfall 0.98 pp only because its dataset
# crops fell too), every jitter row worse: kept out. The device tail alone: 68.04% in Keras against the shipped
# box-jitter tail's 68.38% (docs/recipes.md).
STUDENT_VGGNET_RESTART_DEVICE_TAIL = replace(
    STUDENT_VGGNET_RESTART_TAIL,
    name="student-vggnet-restart-device-tail",
    description="student-vggnet-restart-tail's 4 epochs (box jitter) with each training image replaced with "
    "probability 0.5 by BlazeFace's calibrated crop of that face placed on a canvas. Needs the crops: make "
    "device-crops DATA=...",
    device_crops="blazeface",
    device_crop_share=0.5,
)
STUDENT_VGGNET_RESTART_DEVICE_SOUP = replace(
    STUDENT_VGGNET_RESTART_SOUP,
    name="student-vggnet-restart-device-soup",
    description="The weight average of the student-vggnet-restart-device-tail and student-vggnet-restart-plain-tail "
    "runs of the same variant and seed: the shipped soup with the device's crops in its box-jitter tail; nothing "
    "trained, trains the device tail first. Needs the crops: make device-crops DATA=...",
    soup=("student-vggnet-restart-device-tail-4ep/{variant}-seed{seed}",
          "student-vggnet-restart-plain-tail-4ep/{variant}-seed{seed}"),
)

# A tiny recipe for tests and smoke runs: same code paths, seconds per epoch.
TINY = replace(
    COMPACT,
    name="tiny",
    description="Smoke-test recipe: the compact recipe's code paths with 4/8 filters.",
    widths=(4, 8),
    convs=(1, 1),
    epochs=1,
    batch_size=32,
    learning_rate=3e-2,
)

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (WIDE, WIDE_TAIL, WIDE_BF16, WIDE_BF16_TAIL, DISTILLED, DISTILLED2, FINETUNED, FINETUNED_MILD, COMPACT,
              PAPER, TEACHER_VGG, TEACHER_VGG_PLAIN_TAIL, TEACHER_VGGNET, TEACHER_VGGNET_GAP, STUDENT_VGG,
              STUDENT_VGG_TAIL, STUDENT_VGG_PLAIN_TAIL, STUDENT_SHIPPED, STUDENT_SHIPPED_TAIL,
              STUDENT_SHIPPED_PLAIN_TAIL, STUDENT_DUO,
              STUDENT_DUO_TAIL, STUDENT_DUO_PLAIN_TAIL, STUDENT_DUO_2X, STUDENT_DUO_2X_TAIL, STUDENT_DUO_2X_PLAIN_TAIL,
              STUDENT_DUO_DEEP, STUDENT_DUO_DEEP_PLAIN_TAIL, STUDENT_DEEP, STUDENT_DEEP_PLAIN_TAIL, STUDENT_DEEP_TAIL,
              STUDENT_DEEP_MATCHED_TAIL, STUDENT_DEEP_DEVICE_TAIL, STUDENT_DEEP_DEVICE_QUARTER_TAIL,
              STUDENT_DEVICE, STUDENT_DEVICE_TAIL, STUDENT_DEVICE_JITTER_TAIL, STUDENT_DEVICE_PLAIN_TAIL,
              STUDENT_DEVICE_PLAIN_DEVICE_TAIL, STUDENT_DEEP_TAIL_RESEEDED,
              STUDENT_DEVICE_PLAIN_TAIL_RESEEDED, STUDENT_VGGNET, STUDENT_VGGNET_TAIL, STUDENT_VGGNET_PLAIN_TAIL,
              STUDENT_VGGNET_SOUP, STUDENT_VGGNET_TAIL_RESEEDED, STUDENT_VGGNET_PLAIN_TAIL_RESEEDED,
              STUDENT_VGGNET_SOUP4, STUDENT_VGGNET_RESTART, STUDENT_VGGNET_RESTART_TAIL,
              STUDENT_VGGNET_RESTART_PLAIN_TAIL, STUDENT_VGGNET_RESTART_SOUP, STUDENT_VGGNET_CYCLES_SOUP,
              STUDENT_VGGNET3_RESTART, STUDENT_VGGNET3_RESTART_TAIL, STUDENT_VGGNET3_RESTART_PLAIN_TAIL,
              STUDENT_VGGNET3_RESTART_SOUP, STUDENT_VGGNET_RESTARTS_SOUP, STUDENT_VGGNET_RESTART2,
              STUDENT_VGGNET_RESTART2_TAIL, STUDENT_VGGNET_RESTART2_PLAIN_TAIL, STUDENT_VGGNET_RESTART2_SOUP,
              STUDENT_VGGNET_DEFERRED_TAIL, STUDENT_VGGNET_DEFERRED_PLAIN_TAIL, STUDENT_VGGNET_DEFERRED_SOUP,
              STUDENT_VGGNET_DEFERRED_TAIL_RESEEDED, STUDENT_VGGNET_DEFERRED_PLAIN_TAIL_RESEEDED,
              STUDENT_VGGNET_DEFERRED_SOUP4, STUDENT_VGGNET_RESTART_DEVICE_TAIL,
              STUDENT_VGGNET_RESTART_DEVICE_SOUP,
              TEACHER_VGGNET_COSINE,
              TEACHER_VGGNET_GAP_COSINE, TINY)
}
DEFAULT_RECIPE = WIDE_BF16_TAIL.name  # what `make train`, `python -m train` and `python -m convert` use
STUDY_RECIPE = COMPACT.name  # what `make study` uses: 3 seeds x 2 variants must fit a session

"""Every message a student can see, in one place.

Each message says what is wrong, what was expected, and the likely cause.
Templates are plain ``str.format`` strings; tests/test_messages.py pins their text.
Chapter-specific hints live in the sections at the bottom, one per chapter.
"""

# --- generic comparison messages (checks.py) ---------------------------------

WRONG_TYPE = "{name} should be {expected}, but your code returned {actual}."
RETURNED_NONE = (
    "{name} returned None. Did you forget the `return` statement "
    "(or leave `raise NotImplementedError()` in place)?"
)
WRONG_SHAPE = "{name} has shape {actual}; expected {expected}."
SHAPE_TRANSPOSED = " It looks transposed: the two axes are swapped."
SHAPE_HWC_VS_CHW = " That is the (H, W, C) layout of PIL/matplotlib; PyTorch wants (C, H, W)."
SHAPE_CHW_VS_HWC = " That is PyTorch's (C, H, W) layout; PIL/matplotlib want (H, W, C)."
SHAPE_OFF_BY_ONE = " Axis {axis} is off by {delta}: check the `+ 1` / `- 1` in your size formula."
SHAPE_MISSING_AXIS = " The length-1 axis is missing: keep it (keepdim=True or unsqueeze(0))."
SHAPE_EXTRA_AXIS = " There is an extra length-1 axis: remove it (squeeze)."
WRONG_DTYPE = "{name} has dtype {actual}; expected {expected}."
DTYPE_INT_VS_FLOAT = (
    " Integer results lose the fractions: convert with .float() (or .to(torch.float32))"
    " before dividing or multiplying."
)
DTYPE_FLOAT64 = (
    " float64 is NumPy's default; PyTorch works in float32: use torch.float32"
    " (or keep the input's dtype)."
)
DTYPE_FLOAT_VS_UINT8 = (
    " Images stored as bytes are uint8: round, clamp to [0, 255] and use .to(torch.uint8)."
)
WRONG_DEVICE = (
    "{name} is on {actual} for input on {expected}. Create new tensors on the input's device"
    " (e.g. torch.zeros(..., device=X.device)) and never call .cpu() in the result."
)
META_DEVICE = (
    "{name}: given input on the 'meta' device your function returned a tensor on {actual}."
    " Some tensor in it was created without device=...; on a GPU this code would fail or"
    " silently compute on the CPU. Create new tensors with device=X.device."
)
META_DEVICE_MIX = (
    "{name} mixes devices: given input on the 'meta' device it failed with \"{error}\"."
    " A tensor inside your function was created on the CPU; on a GPU this fails. Create it"
    " on the input's device (device=X.device, or .to(X))."
)
WRONG_VALUES = (
    "{name} has the right shape, dtype and device but wrong values: {count} of {total}"
    " entries differ. First difference at index {index}: got {actual}, expected {expected}."
    " Largest difference: {max_diff:.4g}."
)
VALUES_TRANSPOSED = " Your result is the transpose of the expected one."
VALUES_SCALED_255 = (
    " Your values are 255 times too large: the expected values are in [0, 1], yours in [0, 255]."
)
VALUES_SCALED_1_255 = (
    " Your values are 255 times too small: the expected values are in [0, 255], yours in [0, 1]."
)
VALUES_NOT_FINITE = "{name} contains NaN or infinity at index {index}."
NOT_CLOSE = "{name} is {actual!r}; expected {expected!r} (tolerance {tol:.3g})."
NOT_EQUAL = "{name} is {actual!r}; expected {expected!r}."
FORBIDDEN_CALL = (
    "{function} is not allowed in this exercise: the point is to compute it yourself"
    " with basic tensor operations."
)
NOT_IMPLEMENTED = (
    "{name} is not implemented yet: replace `raise NotImplementedError()` with your code."
)

# --- the grader (execute.py, grade.py) ---------------------------------------------------

KERNEL_DIED = (
    "The kernel died while running this cell (os._exit, a crash in C code, or it was killed)."
    " Cells after it were not run."
)
KERNEL_MEMORY = (
    "The kernel used more than the {limit} MB memory limit and was stopped. Cells after it"
    " were not run."
)
KERNEL_NOTEBOOK_TIMEOUT = (
    "The notebook ran longer than its {seconds} s time limit and was stopped. Cells after it"
    " were not run."
)
KERNEL_CELL_TIMEOUT = (
    "This cell ran longer than its {seconds} s limit and did not stop when interrupted, so the"
    " kernel was stopped. Cells after it were not run."
)
KERNEL_NOT_RUN = "This cell was not run: the kernel had stopped in an earlier cell."
FIGURE_NOT_DRAWN = (
    "{detail}: not drawn by the grader (graded with --no-figures); run the notebook yourself"
    " to see it."
)
OUTPUT_TRUNCATED = (
    "Output truncated: this cell printed more than {limit} bytes; the rest was discarded."
)

# --- the sandbox (sandbox.py, grade.py) -------------------------------------------------

SANDBOX_NO_BWRAP = (
    "Refusing to grade: student code must run sandboxed, and bubblewrap (bwrap) is not"
    " installed. Install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install"
    " bubblewrap), or pass --no-sandbox to grade trusted code only."
)
SANDBOX_FAILED = (
    "Refusing to grade: the sandbox could not be set up ({detail}). bwrap needs user"
    " namespaces: sysctl -w kernel.unprivileged_userns_clone=1 or user.max_user_namespaces=10000"
    " (Ubuntu 24.04: kernel.apparmor_restrict_unprivileged_userns=0); in a container, run it"
    " with --privileged or a seccomp profile allowing unshare. Or pass --no-sandbox."
)
FIGURES_COLD = (
    "Refusing to grade: --no-figures needs warm kernels (forked by the grader's zygote), and"
    " --cold asks for kernels started by jupyter_client. Drop one of the two."
)
SANDBOX_COLD = (
    "Refusing to grade: only warm kernels (forked by the grader's zygote) run sandboxed, and"
    " --cold asks for kernels started by jupyter_client. Drop --cold, or add --no-sandbox."
)
SANDBOX_OFF = (
    "WARNING: --no-sandbox: student code runs with your rights. It can read the hidden tests,"
    " the gradebook and other students' work, write anywhere you can, use the network and"
    " leave processes running. Grade only code you trust this way."
)

# --- the hardened grader (hardened.py, bridge.py) ------------------------------------------

HARDENED_NO_SOURCE = (
    "The hardened grader takes the tests from the course's source notebook, and {path} does"
    " not exist. Grade from the course directory that holds notebooks/, or use --unhardened."
)
HARDENED_UNKNOWN_TEST = (
    "This cell claims to be the test {grade_id!r}, which the assignment does not have:"
    " it was not run. Test cells must not be added, renamed or copied."
)
HARDENED_OFF = (
    "WARNING: --unhardened: test cells run in the student's kernel, as under plain nbgrader."
    " Code in the notebook can redefine the checks, torch.allclose, AssertionError or compile"
    " and gain points it did not earn. Grade only code you trust this way."
)
HARDENED_TRUSTED_FAILED = (
    "The grader could not run this test (its own kernel failed). This is not your fault:"
    " tell your instructor."
)
HARDENED_TRUSTED_NOT_STARTED = (
    "The grader could not run this test: its own kernel did not start ({error})."
    " This is not your fault: tell your instructor."
)
HARDENED_TRUSTED_NO_MORE_STARTS = (
    "The grader could not run this test: its own kernel was started {count} times for this"
    " notebook already and is not started again. This is not your fault: tell your instructor."
)

# --- notes in the grading summary (grade.py's summary), one short clause each -----------------

NOTE_KERNEL_DIED = "the kernel died (os._exit, a crash or a kill); later cells were not run."
NOTE_MEMORY = "the kernel hit the {limit} MB memory limit; later cells were not run."
NOTE_NOTEBOOK_TIMEOUT = "the notebook hit its {seconds} s time limit; later cells were not run."
NOTE_INTERRUPTED = "a cell hit the per-cell time limit or was interrupted (KeyboardInterrupt)."
NOTE_OUTPUT_TRUNCATED = "a cell's output was truncated (it printed more than the limit)."
NOTE_UNKNOWN_TEST = "claims test cells the assignment does not have: {name}."
NOTE_MISSING_TESTS = "test cells missing from the submission: {name}."
NOTE_DUPLICATE_CELLS = "cells whose grade_id appears more than once: {name}."
NOTE_CHANGED_TESTS = "test cells whose points or nbgrader flags were changed: {name}."
NOTE_EDITED_TESTS = "test cells whose code was edited (the course's own was run instead): {name}."
NOTE_NOTEBOOK_MISSING = "not graded: the notebook {path} is missing (renamed or not submitted)."
NOTE_NOTEBOOK_UNREADABLE = "not graded: the notebook {path} is not a readable notebook ({detail})."
NOTE_GRADE_FAILED = "not graded: {detail}."

# --- chapter 1: pixels ----------------------------------------------------------

CH01_RESHAPE_NOT_PERMUTE = (
    " Your values are scrambled the way reshape/view scrambles them: reshape keeps the"
    " memory order and only relabels the axes. Use permute to move the channel axis."
)
CH01_PERMUTE_WRONG_ORDER = (
    " Your result has the right values in the wrong axis order: check the indices you"
    " passed to permute (channel axis first for to_chw, last for to_hwc)."
)
CH01_DIVIDED_BY_256 = (
    " Your values are 255/256 of the expected ones: divide by 255 (the largest uint8"
    " value), not 256, so that white maps to exactly 1.0."
)
CH01_TRUNCATED = (
    " Some values are one too small: .to(torch.uint8) truncates towards zero. Round first"
    " (torch.round) so that float_to_uint8(uint8_to_float(x)) gives back x."
)
CH01_NOT_CLAMPED = (
    " Values outside [0, 1] wrapped around instead of saturating: clamp to [0, 255]"
    " (or [0, 1] before scaling) before converting to uint8."
)
CH01_NOT_SCALED = (
    " Every value became 0 or 1: multiply by 255 before rounding, so that 1.0 maps to 255."
)
CH01_EQUAL_WEIGHTS = (
    " You averaged the three channels. The eye is most sensitive to green: use the luma"
    " weights 0.2989 R + 0.587 G + 0.114 B, as torchvision does."
)
CH01_REC709_WEIGHTS = (
    " Those are the Rec. 709 weights (0.2126, 0.7152, 0.0722); torchvision's rgb_to_grayscale"
    " uses the ITU-R 601-2 weights 0.2989, 0.587, 0.114."
)
CH01_BGR_WEIGHTS = (
    " The weights are applied to the channels in reverse order (B, G, R): channel 0 is red."
)
CH01_SEED_GREEN_ROWS = (
    " Green should fill the left half (columns 0-15, every row); your green fills half of"
    " the rows instead: the second index of a (H, W) plane is the column."
)
CH01_SEED_BLUE_TOP = (
    " Blue should fill the bottom half (rows 16-31); row 0 is the top of the image."
)
CH01_SEED_MISSING_RED = " Red should be 1 everywhere, including where green and blue are."

# --- chapter 2: kernels and cross-correlation -----------------------------------------

CH02_FLIPPED_KERNEL = (
    " Your result is the true convolution: the kernel was flipped (rotated by 180 degrees)."
    " Deep learning's convolution is cross-correlation: multiply X[i + a, j + b] by K[a, b]."
)
CH02_KERNEL_TRANSPOSED = (
    " Your result is the cross-correlation with the transposed kernel K.T: pair the window's"
    " row a and column b with K[a, b] (rows with rows, columns with columns)."
)
CH02_RESULT_ON_CPU = (
    "{name} writes values computed on the input's device into a tensor created on the CPU"
    " (torch.zeros(...) without device=): on a GPU the result would come back on the CPU."
    " Create it with torch.zeros(..., dtype=X.dtype, device=X.device)."
)
CH02_LOOPS_OVER_PIXELS = (
    "{name} still loops over the output pixels: {detail}. Compute all windows at once"
    " (Tensor.unfold, as_strided, or one shifted slice per kernel entry)."
)
CH02_SIZE_NO_DILATION = (
    " That is the size without dilation: a kernel of size k with dilation d spans"
    " d * (k - 1) + 1 pixels."
)
CH02_SIZE_ROUNDED_UP = (
    " You rounded up: PyTorch drops a last, incomplete stride step, so round down with //."
)
CH02_SIZE_TRUE_DIVISION = (
    " You used true division /: the size is an int, computed with floor division //."
)
CH02_SIZE_PADDING_ONCE = (
    " Padding adds p pixels on both sides: use n + 2 * padding, not n + padding."
)
CH02_SIZE_OFF_BY_ONE = (
    " Off by one: with stride 1 a window spanning k pixels fits n - k + 1 times; check the"
    " - 1 inside the floor and the + 1 after it."
)
CH02_NOT_PARAMETER = (
    " Wrap the tensors in nn.Parameter and assign them as attributes"
    " (self.weight = nn.Parameter(...)); a plain tensor is invisible to optimizers and .to()."
)
CH02_IGNORED_BIAS = " Your output equals the cross-correlation without the bias: add self.bias."
CH02_NO_GRADIENT = (
    "{name} has no gradient after backward(): forward must compute with the Parameter itself,"
    " not with .data, .detach() or a copy of it."
)
CH02_MEAN_NOT_SUM = (
    " You averaged over the input channels; a multi-channel cross-correlation sums them."
)
CH02_NO_CHANNEL_SUM = (
    " You returned one map per input channel: add the per-channel cross-correlations up"
    " into a single map."
)
CH02_CHANNEL_AXES_SWAPPED = (
    " The two channel axes of K are swapped: K has shape (C_out, C_in, kh, kw), so output"
    " channel o uses K[o], which holds one kernel per input channel."
)
CH02_SUMMED_OUTPUT_CHANNELS = (
    " You also summed over the output channels: each output channel o has its own kernel"
    " K[o] and its own map; stack the maps."
)
CH02_PARAMS_NO_BIAS = (
    " That is the count without the biases: with bias=True every output channel (or output"
    " unit) adds one bias."
)
CH02_PARAMS_BIAS_IGNORED_FLAG = (
    " With bias=False the layer has no bias vector: count the biases only when bias is True."
)
CH02_PARAMS_NO_CIN = (
    " You counted one kernel per output channel: each output channel has a kh x kw kernel for"
    " every input channel, c_in * kh * kw weights."
)
CH02_PARAMS_BIAS_PER_INPUT = (
    " The bias vector has one entry per output (c_out or n_out), not one per input."
)

# --- chapter 3: edge detection --------------------------------------------------------

CH03_STRIPE_COLUMNS_2_6 = (
    " Your black stripe covers columns 2 to 6; it should cover columns 2 to 5:"
    " X[:, 2:6] = 0 (the end of a slice is excluded)."
)
CH03_STRIPE_COLUMNS_1_5 = (
    " Your black stripe covers columns 1 to 5; columns are counted from 0, so it should"
    " cover columns 2 to 5: X[:, 2:6] = 0."
)
CH03_STRIPE_INVERTED = (
    " Your image is inverted: it should be ones (white) with zeros (black) in columns 2 to 5."
)
CH03_STRIPE_ROWS = (
    " Your stripe runs across rows 2 to 5; it should cover columns 2 to 5: in X[i, j] the"
    " second index is the column, so write X[:, 2:6] = 0."
)
CH03_EDGE_SIGN_FLIPPED = (
    " Your result has the opposite sign: the kernel [1, -1] computes x[i, j] - x[i, j+1]"
    " (x[i, j] - x[i+1, j] for the transposed kernel), which is +1 where white turns into"
    " black and -1 where black turns into white."
)
CH03_EDGE_ROWS_NOT_COLUMNS = (
    " You took differences between rows, x[i, j] - x[i+1, j], which finds horizontal"
    " edges. The kernel [[1, -1]] is one row high: it subtracts the right-hand neighbour,"
    " x[i, j] - x[i, j+1]."
)
CH03_EDGE_COLUMNS_NOT_ROWS = (
    " You took differences between columns (the kernel [[1, -1]]), which finds vertical"
    " edges. Horizontal edges need the transposed kernel [[1], [-1]]: x[i, j] - x[i+1, j]."
)
CH03_EDGE_KEEP_2D = (
    " Return a 2-D result: remove the batch and channel axes you added for conv2d"
    " (e.g. F.conv2d(...)[0, 0])."
)
CH03_EDGE_PADDED = (
    " Use no padding (a 'valid' cross-correlation): a kernel two pixels long leaves one"
    " row or column fewer than the input."
)
CH03_NO_PADDING = (
    " Your result is 2 pixels smaller in each direction: pad with one ring of zeros"
    " (F.conv2d(..., padding=1)) so that the output keeps the input's height and width."
)
CH03_PADDING_NOT_ZERO = (
    " Only the border pixels differ: pad with zeros (F.conv2d(..., padding=1)), not by"
    " replicating or reflecting the border."
)
CH03_SAME_DIMS = (
    " Return as many dimensions as you were given: (H, W) for an (H, W) input,"
    " (1, H, W) for a (1, H, W) input."
)
CH03_SOBEL_NO_SQRT = (
    " These are the squared magnitudes gx² + gy²: take the square root (torch.sqrt or torch.hypot)."
)
CH03_SOBEL_ONE_DIRECTION = (
    " This is the response of one Sobel kernel alone (|gx| or |gy|): combine both"
    " directions as sqrt(gx² + gy²), with gy from the transposed kernel."
)
CH03_SOBEL_L1 = " This is |gx| + |gy|; the gradient magnitude is sqrt(gx² + gy²)."
CH03_SOBEL_GY_SAME = (
    " gy was computed with the same kernel as gx: gy's kernel is the transpose of gx's,"
    " [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]."
)
CH03_LAPLACIAN_SIGN = (
    " Your result is the negative of the expected one: use the kernel"
    " [[0, 1, 0], [1, -4, 1], [0, 1, 0]] (centre -4, neighbours +1)."
)
CH03_LAPLACIAN_CENTRE = (
    " The centre weight is wrong: the kernel is [[0, 1, 0], [1, -4, 1], [0, 1, 0]]; its"
    " weights sum to 0, so a flat region gives 0."
)
CH03_LAPLACIAN_EIGHT = (
    " That is the 8-neighbour Laplacian [[1, 1, 1], [1, -8, 1], [1, 1, 1]]; this exercise"
    " uses the 4-neighbour kernel [[0, 1, 0], [1, -4, 1], [0, 1, 0]]."
)
CH03_BANK_SHAPE = (
    " A conv-layer weight is (out_channels, in_channels, kh, kw): the bank must be"
    " (4, 1, 4, 4), with the in-channel axis second (e.g. torch.stack(filters)[:, None])."
)
CH03_BANK_ORDER = (
    " The right four filters in the wrong order: first the one whose every row is"
    " [-1, -1, 1, 1], then its negative, then its transpose, then the transpose's negative."
)
CH03_FILTERNET_TUPLE = (
    "{name} should return the tuple (conv_x, activated_x, pooled_x), every stage and not"
    " only the last one; it returned {actual}."
)
CH03_FILTERNET_INPLACE = (
    " conv_x has lost its negative values: an in-place ReLU (inplace=True, relu_) overwrote"
    " it. Compute the ReLU as a new tensor so that conv_x stays unchanged."
)
CH03_FILTERNET_NO_RELU = (
    " The negative values are still there: apply the ReLU (negatives become 0) after the"
    " convolution and before pooling."
)
CH03_FILTERNET_AVG_POOL = (
    " These are averages of 2×2 blocks: use max pooling (nn.MaxPool2d(2, 2)), not average pooling."
)
CH03_FILTERNET_POOL_STRIDE = (
    " The pooling windows overlap: use stride 2 (nn.MaxPool2d(2, 2)), which halves the"
    " height and width."
)
CH03_FILTERNET_BIAS = (
    " Every channel is off by a constant: the convolution has a bias. Create it without one"
    " (nn.Conv2d(..., bias=False))."
)
CH03_FILTERNET_ORDER = (
    " That is another stage's output: return (conv_x, activated_x, pooled_x) in this order."
)
CH03_FILTERNET_NOT_MOVED = (
    "{name}: after .to(device) your model still computes with a weight on another device"
    " ({error}). Register the weight (nn.Parameter, register_buffer or an nn.Conv2d"
    " submodule) so that .to() moves it."
)

# --- chapter 4: learning a kernel -----------------------------------------------------

CH04_NO_ZERO_GRAD = (
    " Your run is what you get when gradients accumulate: .backward() adds to .grad, so zero it"
    " after every update (weight.grad.zero_(), weight.grad = None or optimizer.zero_grad())."
)
CH04_MEAN_NOT_SUM = (
    " Your run matches a loss averaged over the pixels (.mean(), nn.MSELoss()) with the same lr:"
    " the loss here is the squared error summed over the pixels (.sum()), H*W times larger."
)
CH04_WRONG_SIGN = (
    " Your weights move uphill: gradient descent subtracts the gradient, weight -= lr * grad."
)
CH04_LOSS_AFTER_UPDATE = (
    " Your losses are one step ahead: record each loss before its update, so losses[0] is the"
    " loss of the initial weights."
)
CH04_SEED_AFTER_LAYER = (
    " Your run starts from another initial weight: call torch.manual_seed(seed) before creating"
    " the nn.Conv2d, so that the seed decides the initialisation."
)
CH04_HALF_LR = (
    " Your weights move half as far per step as expected: use the learning rate as given"
    " (weight -= lr * grad, no factor 1/2)."
)
CH04_MOMENTUM = (
    " Your run matches SGD with momentum 0.9: use plain torch.optim.SGD(params, lr=lr), whose"
    " steps equal the manual update."
)
CH04_NOT_DETACHED = (
    "{name} still requires grad: return a detached tensor (weight.detach() or weight.data),"
    " not one attached to the autograd graph."
)
CH04_NOT_ON_CPU = (
    "{name} is on {actual}: return it on the CPU (.cpu()), whatever device the training used."
)
CH04_LOSSES_NOT_FLOATS = (
    "{name} should be a list of Python floats, one per step (use loss.item()); element {index}"
    " is {actual}."
)
CH04_LR_TWO_OVER = (
    " That is 2 / λ_max(AᵀA). The summed loss has Hessian 2AᵀA, so the limit is"
    " 2 / λ_max(2AᵀA) = 1 / λ_max(AᵀA)."
)
CH04_LR_SINGULAR = (
    " That is 1 / σ_max(A), the largest singular value of A; the eigenvalue of AᵀA is its"
    " square: use 1 / σ_max(A)² = 1 / λ_max(AᵀA)."
)
CH04_LR_HESSIAN = (
    " That is 1 / λ_max(2AᵀA), half the limit: gradient descent is stable up to"
    " 2 / λ_max(Hessian) = 1 / λ_max(AᵀA)."
)
CH04_LR_LAMBDA_MIN = (
    " That is 1 / λ_min(AᵀA): the steepest direction, the largest eigenvalue, limits the"
    " learning rate."
)
CH04_KERNEL_SIZE = " Create the layer with the kernel_size argument (kh rows, kw columns)."
CH04_NOT_CONVERGED = (
    " Your kernel moved towards the answer but did not reach it: run all num_steps steps with"
    " the lr given, on the squared error summed over every pixel of every image of the batch."
)

# --- chapter 5: pooling ---------------------------------------------------------------

CH05_STRIDE_ONE = (
    " Your windows move by 1 pixel: when no stride is given it defaults to the window size"
    " (stride=None means stride=pool_size), so the windows do not overlap."
)
CH05_MAX_PAD_ZEROS = (
    " You padded with zeros before taking the maximum, so on negative inputs the padding wins."
    " Max pooling pads with -inf (F.pad(..., value=float('-inf'))): padding is never the maximum."
)
CH05_AVG_EXCLUDES_PAD = (
    " You divided each padded window by its number of real pixels (count_include_pad=False)."
    " PyTorch's default count_include_pad=True counts the padded zeros: divide by kh * kw."
)
CH05_WINDOW_OFF_BY_ONE = (
    " Your windows are off by one pixel: window (i, j) covers rows i*sh to i*sh + kh - 1 and"
    " columns j*sw to j*sw + kw - 1, i.e. the slices [i*sh : i*sh + kh, j*sw : j*sw + kw]."
)
CH05_CHANNELS_MIXED = (
    " Values from different channels were mixed: pool each channel separately over the last"
    " two axes (H, W) only; a (C, H, W) input keeps its C channels."
)
CH05_RESHAPE_NEEDS_NO_OVERLAP = (
    " Your windows did not follow the stride: the reshape trick (or a stride-k loop) only works"
    " when stride equals the window size. Start window i at i * stride."
)
CH05_MAX_AVG_SWAPPED = (
    " You computed the other pooling: mode='max' takes the largest value of each window,"
    " mode='avg' the mean."
)
CH05_FLOOR_NOT_CEIL = (
    " With ceil_mode=True the division is rounded up, not down: out ="
    " ceil((n + 2p - d(k-1) - 1) / s) + 1 (then the last-window rule)."
)
CH05_CEIL_LAST_WINDOW = (
    " You forgot PyTorch's last-window rule for ceil_mode: a window must start inside the input"
    " or the left padding, so if (out - 1) * s >= n + p, out -= 1."
)
CH05_IGNORES_DILATION = (
    " A dilated window spans d * (k - 1) + 1 pixels, not k: use that span in the formula."
)
CH05_PAD_ONCE = " Padding is added on both sides: the padded length is n + 2 * padding."
CH05_SIZE_OFF_BY_ONE = (
    " Off by one: the number of window positions is floor((n + 2p - span) / s) + 1"
    " (do not forget the + 1 for the first window)."
)
CH05_SHIFT_FRACTION_CHANGED = (
    " You returned the fraction of values that changed; return the fraction that stayed the"
    " same (1 minus your value)."
)
CH05_SHIFT_IGNORED = (
    " Your function always shifts by 1 pixel: shift the input by the `shift` argument."
)
CH05_SHIFT_WRONG_AXIS = (
    " You shifted along the height axis: shift right means along the last axis (width),"
    " torch.roll(X, shifts=shift, dims=-1)."
)
CH05_SHIFT_LEFT = (
    " You shifted left: shifting right by `shift` pixels is torch.roll(X, shifts=shift, dims=-1)"
    " with a positive shift."
)
CH05_SHIFT_ZERO_FILL = (
    " You shifted with zero fill; this exercise shifts with torch.roll (the columns pushed out"
    " on the right come back on the left)."
)
CH05_SHIFT_NO_OP = (
    " You compared the input with the shifted input: compare op(X) with op(shifted X)."
)

# --- chapter 6: loading CIFAR-10 ------------------------------------------------------

CH06_NOT_A_DATASET = (
    "CIFAR10Batches should be a torch.utils.data.Dataset: write"
    " `class CIFAR10Batches(Dataset):` so that a DataLoader (and isinstance checks) accept it."
)
CH06_ONLY_ONE_BATCH = (
    " That is the size of one batch file: the training split is data_batch_1 to data_batch_5"
    " together (the test split is test_batch)."
)
CH06_WRONG_SPLIT = (
    " That is the size of the other split: train=True reads data_batch_1..5, train=False reads"
    " test_batch."
)
CH06_NOT_PIL = (
    " Without a transform an item's image is a PIL image, as in torchvision: return"
    " Image.fromarray(hwc_uint8_array)."
)
CH06_HWC_SCRAMBLED = (
    " The pixels are scrambled the way reshape(N, 32, 32, 3) scrambles them: each row of"
    ' b"data" holds the whole red plane, then green, then blue. Reshape to (N, 3, 32, 32),'
    " then transpose to (N, 32, 32, 3)."
)
CH06_TRANSFORM_IGNORED = (
    " The transform was not applied: return transform(image) when a transform is given."
)
CH06_CLASSES = (
    ' .classes should be the ten names of batches.meta\'s b"label_names", decoded to str'
    " (e.g. 'airplane'), in label order."
)
CH06_MEAN_255 = (
    " These are [0, 255] units: divide by 255 first, so that the numbers fit what ToTensor"
    " produces and Normalize expects."
)
CH06_STATS_HWC = (
    " You reduced over axes (0, 2, 3) as for an (N, C, H, W) array, but the input is"
    " (N, H, W, C): the channel axis is the last one, reduce over (0, 1, 2)."
)
CH06_STATS_RESHAPE = (
    " reshape/view to (N, 3, H, W) mixes the channels (the memory order is H, W, C):"
    " use permute, or reduce over axes (0, 1, 2) directly."
)
CH06_STD_WHOLE_ARRAY = (
    " Your std is one number for all channels: it was computed over the whole array."
    " Compute it per channel, over the N, H and W axes."
)
CH06_STD_PER_IMAGE = (
    " That is the average of per-image standard deviations (the mistake behind the widely"
    " copied 0.2023, 0.1994, 0.2010): compute one std per channel over all pixels of all images."
)
CH06_TRANSFORM_FAILED = (
    " Normalize works on tensors, so it must come after ToTensor in the Compose; the random"
    " crop and flip come first (they work on PIL images)."
)
CH06_TEST_AUGMENTED = (
    " The test transform is random (crop or flip): augmentation is for training only; with"
    " train=False use just ToTensor and Normalize."
)
CH06_NOT_NORMALIZED = (
    " The values are ToTensor's [0, 1] values: Normalize(mean, std) is missing after ToTensor."
)
CH06_TRAIN_NOT_AUGMENTED = (
    "make_transforms(mean, std, train=True) returned the same tensor for {count} different"
    " seeds: the training transform should apply RandomCrop(32, padding=4) and"
    " RandomHorizontalFlip() before ToTensor."
)
CH06_TRAIN_NO_FLIP = (
    "make_transforms(mean, std, train=True) never flipped the image in {count} runs:"
    " RandomHorizontalFlip() is missing."
)
CH06_TRAIN_NO_CROP = (
    "make_transforms(mean, std, train=True) never shifted the image in {count} runs:"
    " RandomCrop(32, padding=4) is missing."
)
CH06_TRAIN_NOT_CROP_FLIP = (
    "make_transforms(mean, std, train=True) returned a tensor that is not a padded crop and/or"
    " horizontal flip of the image, normalised with mean and std. Use RandomCrop(32,"
    " padding=4), RandomHorizontalFlip(), ToTensor() and Normalize(mean, std), in that order."
)
CH06_NOT_INVERSE = (
    " That is Normalize applied again, not its inverse: Normalize computes (x - mean) / std"
    " per channel, so denormalize computes x * std + mean."
)
CH06_DENORM_SWAPPED = " mean and std are swapped: the inverse of Normalize is x * std + mean."
CH06_CHANNEL_AXIS = (
    " mean and std were applied along the last axis (the width). They belong to the channel"
    " axis: reshape them to (3, 1, 1) so that they broadcast over (..., 3, H, W)."
)
CH06_DROP_LAST_LEN = (
    " With drop_last=True the incomplete last batch is dropped (len = N // batch_size);"
    " without it, it is kept (len = ceil(N / batch_size)). Pass drop_last to the DataLoader."
)
CH06_NOT_SHUFFLED = (
    "With shuffle=True the loader gave the items in their original order: pass shuffle on"
    " to the loader (shuffle=True draws a new order at every epoch)."
)
CH06_SHUFFLED_ANYWAY = (
    "With shuffle=False the loader changed the order of the items: pass shuffle on to the"
    " loader (shuffle=False keeps the data set's order)."
)
CH06_NOT_REPRODUCIBLE = (
    "Two loaders made with the same seed gave different orders. Give the loader its own"
    " generator, torch.Generator().manual_seed(seed); torch.manual_seed(seed) alone does not"
    " work, because other code draws from the global generator in between."
)
CH06_SEED_IGNORED = (
    "Loaders made with two different seeds gave the same order: the seed must decide the order"
    " (seed the loader's torch.Generator with it)."
)
CH06_RAISED = "{name} raised {error} ({detail})."
CH06_SAME_ORDER_EVERY_EPOCH = (
    "Two epochs of the same TensorLoader (shuffle=True) had the same order: draw a new"
    " permutation from the loader's generator at every epoch, as a DataLoader does."
)
CH06_PAIRS_BROKEN = (
    "{name}: the images and the labels of a batch do not belong together: they were shuffled"
    " apart. Draw one permutation of the indices and use it for both."
)
CH06_BATCH_HWC = (
    " That is the (B, H, W, C) layout: store the images as (N, 3, H, W) (permute(0, 3, 1, 2))"
    " once, when the loader is made."
)
CH06_BATCH_RESHAPE = (
    " The pixels are scrambled the way reshape/view to (N, 3, H, W) scrambles (N, H, W, C)"
    " images: use permute(0, 3, 1, 2)."
)
CH06_BATCH_NOT_SCALED = (
    " The values were normalised without dividing by 255 first: mean and std are in [0, 1]"
    " units, so compute (x / 255 - mean) / std."
)

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

# --- chapter 3: edge detection --------------------------------------------------------

# --- chapter 4: learning a kernel -----------------------------------------------------

# --- chapter 5: pooling ---------------------------------------------------------------

# --- chapter 6: loading CIFAR-10 ------------------------------------------------------

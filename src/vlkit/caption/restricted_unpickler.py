"""A restricted unpickler for `torch.load` that rebuilds tensors and turns allowed classes into inert records.

Plain `torch.load(weights_only=False)` would run any code a downloaded file asks for (and needs the
code of its pickled classes on the import path); `weights_only=True` refuses pickled modules.
`load_restricted` gives `torch.load` a restricted pickle module instead (`RESTRICTED_PICKLE`): its
unpickler resolves only the globals torch needs to rebuild tensors (through small checked wrappers),
a few inert containers, and the module and optimizer classes found in the captioning tutorial's
checkpoints (`vlkit.caption.checkpoint_import`). Every one of those classes becomes an inert
stand-in (`PickledObject`) that only keeps its pickled state: no real class is instantiated, no
`__setstate__` of torch or of the tutorial runs, and the tutorial's `models` module is never
imported (any class name of that module maps to a stand-in, so that a decoder of another kind can
be told apart by its structure rather than refused by name). Anything else stops the load with an
`UnsafeCheckpointError` naming the global. Both the legacy (PyTorch 0.4) and the zip formats load.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
import re
import types
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch

from vlkit.core.errors import VlkitError

__all__ = ["RESTRICTED_PICKLE", "PickledObject", "RestrictedUnpickler", "UnsafeCheckpointError", "load_restricted",
           "pickled_class"]


class UnsafeCheckpointError(VlkitError):
    """A pickle asked for a global outside the allowlist (or for an operation on a real object)."""

    def __init__(self, message: str, global_name: str | None = None):
        super().__init__(message)
        self.global_name = global_name


# ---------------------------------------------------------------------------------------------
# Inert stand-ins for the pickled module and optimizer classes


class PickledObject:
    """An inert stand-in for an allowed class: it keeps the pickled arguments and state, nothing more."""

    pickled_class: ClassVar[str] = "?"
    # torch's legacy loader reads `dump_patches` on the classes of pickled modules; never write patches
    dump_patches: ClassVar[bool] = False

    def __new__(cls, *args: Any, **kwargs: Any) -> PickledObject:
        obj = object.__new__(cls)
        obj.__dict__["pickled_args"] = args
        obj.__dict__["pickled_state"] = {}
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2 and all(isinstance(s, (dict, type(None))) for s in state):
            state = {**(state[0] or {}), **(state[1] or {})}  # (dict state, slot state)
        self.__dict__["pickled_state"] = state

    def __repr__(self) -> str:
        return f"<pickled {self.pickled_class}>"


_STAND_INS: dict[str, type[PickledObject]] = {}


def _stand_in(module: str, name: str) -> type[PickledObject]:
    qualified = f"{module}.{name}"
    if qualified not in _STAND_INS:
        # a module name that cannot be imported, so that nothing (inspect included) finds real source
        _STAND_INS[qualified] = type(name, (PickledObject,), {"pickled_class": qualified,
                                                              "__module__": f"vlkit-pickled.{module}",
                                                              "__qualname__": name})
    return _STAND_INS[qualified]


def pickled_class(obj: Any) -> str | None:
    """The `module.Class` a stand-in was pickled as, or None for anything else."""
    return obj.pickled_class if isinstance(obj, PickledObject) else None


# ---------------------------------------------------------------------------------------------
# Checked versions of the functions torch's pickles call to rebuild tensors


def _refuse(message: str) -> UnsafeCheckpointError:
    return UnsafeCheckpointError(f"malformed tensor in the pickle: {message}")


def _check_ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list, torch.Size)) or not all(type(v) is int and v >= 0 for v in value):
        raise _refuse(f"{what} {value!r} is not a tuple of non-negative ints")
    return tuple(value)


def _check_hooks(hooks: Any) -> None:
    if hooks is not None and not (isinstance(hooks, dict) and not hooks):
        raise _refuse("it carries backward hooks")


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> torch.Tensor:
    if not isinstance(storage, torch.storage.TypedStorage):
        raise _refuse(f"its storage is a {type(storage).__name__}")
    if type(storage_offset) is not int or storage_offset < 0:
        raise _refuse(f"storage offset {storage_offset!r}")
    size, stride = _check_ints(size, "size"), _check_ints(stride, "stride")
    if len(size) != len(stride):
        raise _refuse(f"size {size} and stride {stride} differ in length")
    elements = storage._untyped_storage.nbytes() // torch._utils._element_size(storage.dtype)
    needed = storage_offset + 1 + sum((n - 1) * st for n, st in zip(size, stride)) if all(size) else 0
    if needed > elements:  # set_ would silently grow the storage (to any size the file asks for)
        raise _refuse(f"size {size}, stride {stride} and offset {storage_offset} reach past its storage of "
                      f"{elements} elements")
    return torch._utils._rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, requires_grad: Any,
                       backward_hooks: Any, metadata: Any = None) -> torch.Tensor:
    _check_hooks(backward_hooks)
    if type(requires_grad) is not bool:
        raise _refuse(f"requires_grad {requires_grad!r}")
    tensor = _rebuild_tensor(storage, storage_offset, size, stride)
    if metadata:
        if not (isinstance(metadata, dict) and all(isinstance(k, str) and type(v) is bool
                                                   for k, v in metadata.items())):
            raise _refuse(f"tensor metadata {metadata!r}")
        torch._utils.set_tensor_metadata(tensor, metadata)
    tensor.requires_grad = requires_grad
    return tensor


def _parameter(data: Any, requires_grad: Any = True) -> torch.nn.Parameter:
    """`torch.nn.parameter.Parameter(tensor, requires_grad)`: how PyTorch 0.4 pickled parameters."""
    if not isinstance(data, torch.Tensor) or type(requires_grad) is not bool:
        raise _refuse(f"parameter of {type(data).__name__} with requires_grad={requires_grad!r}")
    return torch.nn.Parameter(data.detach(), requires_grad)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> torch.nn.Parameter:
    _check_hooks(backward_hooks)
    return _parameter(data, requires_grad)


def _rebuild_parameter_with_state(data: Any, requires_grad: Any, backward_hooks: Any,
                                  state: Any) -> torch.nn.Parameter:
    # the state (Python attributes set on the parameter) is not needed and not restored
    return _rebuild_parameter(data, requires_grad, backward_hooks)


def _defaultdict(*args: Any) -> dict:
    """`collections.defaultdict(factory)` (an optimizer's `state`) as a plain dict: the factory is never kept."""
    return {}


def _thnn_backend() -> None:
    """PyTorch 0.4 pickled each module's `_backend` as a call to this function."""


_FUNCTIONS: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch.nn.parameter", "Parameter"): _parameter,
    ("torch.nn.backends.thnn", "_get_thnn_function_backend"): _thnn_backend,
    ("collections", "OrderedDict"): OrderedDict,
    ("collections", "defaultdict"): _defaultdict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "dict"): dict,  # only as the factory of a defaultdict
}

# The classes of the tutorial's checkpoints (ResNet-101 blocks, or a smaller ResNet's) and nn.LSTM,
# so that a Show-and-Tell decoder is told apart by structure rather than refused by name.
_MODULE_CLASSES: dict[str, frozenset[str]] = {
    "torch.nn.modules.container": frozenset({"Sequential"}),
    "torch.nn.modules.conv": frozenset({"Conv2d"}),
    "torch.nn.modules.batchnorm": frozenset({"BatchNorm2d"}),
    "torch.nn.modules.activation": frozenset({"ReLU", "Softmax", "Sigmoid"}),
    "torch.nn.modules.pooling": frozenset({"MaxPool2d", "AdaptiveAvgPool2d"}),
    "torch.nn.modules.linear": frozenset({"Linear"}),
    "torch.nn.modules.sparse": frozenset({"Embedding"}),
    "torch.nn.modules.dropout": frozenset({"Dropout"}),
    "torch.nn.modules.rnn": frozenset({"LSTMCell", "LSTM"}),
    "torchvision.models.resnet": frozenset({"Bottleneck", "BasicBlock"}),
    "torch.optim.adam": frozenset({"Adam"}),
}
TUTORIAL_MODULE = "models"  # train.py does `from models import Encoder, DecoderWithAttention`
_STORAGE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*Storage$")


def _allowed_global(module: str, name: str) -> Any:
    if (module, name) in _FUNCTIONS:
        return _FUNCTIONS[(module, name)]
    if name in _MODULE_CLASSES.get(module, ()):
        return _stand_in(module, name)
    if module == TUTORIAL_MODULE and name.isidentifier():
        return _stand_in(module, name)
    if module == "torch" and _STORAGE_NAME.match(name):  # torch's own find_class handles these first
        from torch.serialization import StorageType

        try:
            return StorageType(name)
        except KeyError:
            pass
    return None


class RestrictedUnpickler(pickle._Unpickler):
    """Resolves only allowlisted globals, and builds and instantiates only inert stand-ins.

    It is the pure-Python unpickler so that BUILD, NEWOBJ and REDUCE can be checked too: BUILD may
    set the state of stand-ins and the attributes of an OrderedDict (a state dict's `_metadata`),
    never of a tensor (`Tensor.__setstate__` calls `set_`); NEWOBJ may create stand-ins only; REDUCE
    may call only what `find_class` returned.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3 and self.fix_imports:  # Python 2 names, as protocol 2 writes builtins
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        found = _allowed_global(module, name)
        if found is None:
            raise UnsafeCheckpointError(
                f"the checkpoint's pickle asks for {module}.{name}, which is not allowed: only tensors and "
                "the module and optimizer classes of the captioning tutorial's checkpoints are read "
                "(loading anything else could run code from the file)", global_name=f"{module}.{name}")
        return found

    def _check_callable(self, func: Any) -> None:
        allowed = (isinstance(func, type) and issubclass(func, PickledObject)) or any(
            func is f for f in _FUNCTIONS.values())
        if not allowed:
            raise UnsafeCheckpointError(f"the checkpoint's pickle calls a {type(func).__name__}, which is not allowed")

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        self._check_callable(func)
        if not isinstance(args, tuple):
            raise UnsafeCheckpointError("malformed pickle: REDUCE arguments are not a tuple")
        self.stack[-1] = func(*args)

    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) is OrderedDict and isinstance(state, dict) and set(state) <= {"_metadata"}:
            inst.__dict__.update(state)  # a state_dict's `_metadata` attribute
            return
        if not isinstance(inst, PickledObject):
            raise UnsafeCheckpointError("the checkpoint's pickle sets the state of an object of type "
                                        f"{type(inst).__name__}, which is not allowed")
        inst.__setstate__(state)

    dispatch[pickle.BUILD[0]] = load_build

    def _new_stand_in(self, cls: Any, args: Any) -> PickledObject:
        if not (isinstance(cls, type) and issubclass(cls, PickledObject)):
            raise UnsafeCheckpointError(f"the checkpoint's pickle creates a {getattr(cls, '__name__', cls)!s} "
                                        "object, which is not allowed")
        return cls.__new__(cls, *args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._new_stand_in(cls, args))

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self) -> None:
        self.stack.pop()  # kwargs: stand-ins take none
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._new_stand_in(cls, args))

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _instantiate(self, klass: Any, args: Any) -> None:  # INST and OBJ (protocols 0 and 1)
        self._check_callable(klass)
        self.append(klass(*args))


def _load_one(file: Any, **kwargs: Any) -> Any:
    return RestrictedUnpickler(file, **kwargs).load()


def _loads(data: bytes, **kwargs: Any) -> Any:
    return _load_one(io.BytesIO(data), **kwargs)


#: what `torch.load(..., pickle_module=RESTRICTED_PICKLE, weights_only=False)` needs of a pickle module
RESTRICTED_PICKLE = types.ModuleType("vlkit_restricted_pickle")
RESTRICTED_PICKLE.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
RESTRICTED_PICKLE.load = _load_one  # type: ignore[attr-defined]
RESTRICTED_PICKLE.loads = _loads  # type: ignore[attr-defined]
RESTRICTED_PICKLE.UnpicklingError = pickle.UnpicklingError  # type: ignore[attr-defined]

_ZIP_MAGIC = b"PK\x03\x04"


def load_restricted(path: str | Path) -> Any:
    """`torch.load` of `path` on the CPU with the restricted unpickler: allowed classes come back as stand-ins.

    Raises VlkitError for a missing file, a file that is not a torch checkpoint, a truncated or
    damaged one, and `UnsafeCheckpointError` (naming the global) for a pickle that asks for anything
    outside the allowlist.
    """
    path = Path(path)
    if not path.is_file():
        raise VlkitError(f"checkpoint not found: {path}")
    with path.open("rb") as f:
        head = f.read(4)
        if not head:
            raise VlkitError(f"{path} is empty, not a PyTorch checkpoint")
        is_zip = head == _ZIP_MAGIC
        if is_zip:
            try:
                names = zipfile.ZipFile(f).namelist()
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                raise VlkitError(f"{path} is truncated or damaged: it starts as a zip archive but cannot be "
                                 f"read as one ({error})") from None
            if any(name.endswith("/constants.pkl") or name == "constants.pkl" for name in names):
                # torch.load would hand it to torch.jit.load, outside the restricted unpickler
                raise VlkitError(f"{path} is a TorchScript archive (torch.jit.save), not a torch.save checkpoint "
                                 "of the captioning tutorial")
        if not is_zip:  # a legacy file starts with a pickled magic number
            f.seek(0)
            try:
                magic = _load_one(f, encoding="utf-8")
            except UnsafeCheckpointError as error:
                raise UnsafeCheckpointError(f"{path}: {error}", error.global_name) from None
            except Exception as error:
                raise VlkitError(f"{path} is not a PyTorch checkpoint (neither a torch.save zip archive nor "
                                 f"the legacy format): {error}") from None
            if magic != torch.serialization.MAGIC_NUMBER:
                raise VlkitError(f"{path} is not a PyTorch checkpoint: it is a pickle of "
                                 f"{type(magic).__name__}, without torch.save's header")
    try:
        with warnings.catch_warnings():
            # the legacy format stores module source to compare with; stand-ins have none
            warnings.filterwarnings("ignore", message="Couldn't retrieve source code")
            warnings.filterwarnings("ignore", category=torch.serialization.SourceChangeWarning)
            return torch.load(path, map_location="cpu", pickle_module=RESTRICTED_PICKLE, weights_only=False,
                              mmap=False)
    except UnsafeCheckpointError as error:
        raise UnsafeCheckpointError(f"{path}: {error}", error.global_name) from None
    except VlkitError:
        raise
    except Exception as error:
        kind = "zip archive" if is_zip else "legacy-format file"
        raise VlkitError(f"{path} is truncated or damaged: torch could not read it as a {kind} "
                         f"({type(error).__name__}: {str(error)[:300]})") from None

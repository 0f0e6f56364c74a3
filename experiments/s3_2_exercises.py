# %% [markdown]
# # 3.2 Exercises: Object-Oriented Design for Implementation
#
# The exercises at the end of d2l section 3.2, answered for jaxhw. Try each one first: every
# written answer is folded under "Answer" (click to unfold); code and outputs stay visible.
# The book's two exercises are about its class library; jaxhw has the same roles as functions
# (section 3.2's notebook, `experiments/s3_2_oo_design.py`, maps one to the other), so the
# answers say where those functions live and what replaces `save_hyperparameters`.

# %% tags=["parameters"]
quick = False  # smoke run (nothing here is heavy: the same in both modes)
seed = 0  # PRNG seed (only the parameters whose optimizer state is shown)
out_dir = "results/3.2-exercises"  # where metrics.json goes

# %%
import dataclasses
import inspect
import textwrap
from pathlib import Path

import jax
import optax

import jaxhw
from jaxhw import board, notebook, optim, sweep, train
from jaxhw.data import fashion_mnist, synthetic
from jaxhw.fingerprint import describe
from jaxhw.models import linear
from jaxhw.nn import losses

run = notebook.start(quick=quick, seed=seed, out_dir=out_dir)
answers = {}  # the measured values behind each answer, keyed by the book's exercise number

# %% [markdown]
# ### Exercise 1 — where the full implementations of the classes live
#
# The book's `Module`, `DataModule`, `Trainer`, `HyperParameters` and `ProgressBoard` are
# defined in full in the `d2l` package (one file per framework, `d2l/torch.py` or
# `d2l/jax.py`, into which every cell marked `#@save` is copied). Where is each role in jaxhw?

# %%
ROOT = Path(jaxhw.__file__).parent.parent  # the folder that holds the jaxhw package
roles = {  # the book's class or method -> the jaxhw function (or class) in that role
    "Module.__init__ (the parameters)": linear.init, "Module.forward": linear.apply,
    "Module.loss": losses.squared_loss, "Module.training_step": train.supervised_loss,
    "Module.configure_optimizers": optim.sgd, "DataModule (3.3)": synthetic.synthetic_regression,
    "DataModule (4.2)": fashion_mnist.load, "Trainer.fit": train.fit,
    "Trainer.fit_epoch": train.train_epoch, "ProgressBoard": board.ProgressBoard,
    "many models at once (beyond the book)": sweep.fit_many,
}
locations = {}
for role, obj in roles.items():
    path = Path(inspect.getsourcefile(obj)).relative_to(ROOT).as_posix()
    line = inspect.getsourcelines(obj)[1]
    locations[role] = f"{path}:{line}"
    summary = " ".join(inspect.getdoc(obj).split("\n\n")[0].split())  # the first paragraph
    print(f"{role}: {obj.__module__}.{obj.__qualname__}, {path}:{line}")
    print(textwrap.fill(summary, 100, initial_indent="    ", subsequent_indent="    "))
module_lines = {path: len((ROOT / path).read_text().splitlines())
                for path in sorted({loc.split(":")[0] for loc in locations.values()})}
answers["1"] = {"locations": locations, "module_lines": module_lines,
                "classes": sorted(role for role, obj in roles.items() if inspect.isclass(obj))}
print("\nlines per module:")
for path, count in module_lines.items():
    print(f"  {path:28s} {count:4d}")

# %% [markdown]
# `help(train.fit)` shows a function's signature and docstring, the first place to look before
# reading the source (`inspect.getsource(train.fit)` prints that). The same two, with one
# argument per line:

# %%
signature = inspect.signature(train.fit)
arguments = [str(parameter) for parameter in signature.parameters.values()]
first_keyword = [parameter.kind for parameter in signature.parameters.values()].index(
    inspect.Parameter.KEYWORD_ONLY)
arguments.insert(first_keyword, "*")  # the arguments after it are passed by name only
print("fit(\n" + "".join(f"    {argument},\n" for argument in arguments)
      + f") -> {signature.return_annotation}\n")
print(inspect.getdoc(train.fit))

# %% [markdown]
# <details><summary>Answer</summary>
#
# In the book, the full classes are in the `d2l` library: `d2l/torch.py` (or `jax.py`,
# `mxnet.py`, `tensorflow.py`) holds `HyperParameters`, `ProgressBoard`, `Module`,
# `DataModule` and `Trainer`, with the methods that later sections add with
# `@d2l.add_to_class` gathered under them (the book's appendix "Utility Functions and
# Classes" explains `save_hyperparameters` and `ProgressBoard`).
#
# jaxhw has no such classes. The printout above is the map: a model is two functions in
# `jaxhw/models/` (`init` and `apply`), a loss is a function in `jaxhw/nn/losses.py` that
# `train.supervised_loss` joins with a model, the optimizer is any optax transformation (the
# book's scratch SGD is `jaxhw/optim.py`), the data are arrays from `jaxhw/data/`, and the
# whole of `Trainer.fit` / `fit_epoch` is `fit` and `train_epoch` in `jaxhw/train.py`. The one
# class in the list is `ProgressBoard`, in `jaxhw/board.py`: it holds the points it plots,
# which is state, and it never enters a compiled function. Each module holds one topic and
# stays under a thousand lines (the counts above), so the source of a role is where its name
# says; the book's single file holds all of them.
#
# </details>

# %% [markdown]
# ### Exercise 2 — remove `save_hyperparameters` from `B`: can you still print `self.a`?
#
# The book's `HyperParameters.save_hyperparameters`, as `d2l` implements it (the appendix
# "Utility Functions and Classes"),
# and the class `B` of the section with and without the call:

# %%
class HyperParameters:
    """The base class of hyperparameters (d2l's implementation)."""

    def save_hyperparameters(self, ignore=()):
        """Save function arguments into class attributes."""
        frame = inspect.currentframe().f_back
        _, _, _, local_vars = inspect.getargvalues(frame)
        self.hparams = {k: v for k, v in local_vars.items()
                        if k not in {*ignore, "self"} and not k.startswith("_")}
        for k, v in self.hparams.items():
            setattr(self, k, v)


class B(HyperParameters):
    def __init__(self, a, b, c):
        self.save_hyperparameters(ignore=["c"])
        print("self.a =", self.a, "self.b =", self.b)
        print("There is no self.c =", not hasattr(self, "c"))


class BWithoutSave(HyperParameters):
    def __init__(self, a, b, c):
        print("self.a =", self.a, "self.b =", self.b)


with_save = B(a=1, b=2, c=3)
try:
    BWithoutSave(a=1, b=2, c=3)
    error = None
except AttributeError as err:
    error = f"AttributeError: {err}"
print(f"without save_hyperparameters: {error}")
answers["2"] = {"with_save": {"a": with_save.a, "b": with_save.b},
                "with_save_hparams": with_save.hparams, "has_c": hasattr(with_save, "c"),
                "without_save_error": error}

# %% [markdown]
# Why: `save_hyperparameters` reads the local variables of the function that called it. At
# that moment, inside `B.__init__`, they are the arguments:

# %%
class ShowCallerLocals:
    def save_hyperparameters(self):
        caller = inspect.currentframe().f_back
        self.caller = caller.f_code.co_qualname
        self.caller_locals = sorted(inspect.getargvalues(caller).locals)


class Peek(ShowCallerLocals):
    def __init__(self, a, b, c):
        self.save_hyperparameters()


peek = Peek(a=1, b=2, c=3)
print(f"caller: {peek.caller}, its local variables: {peek.caller_locals}")
answers["2"].update(caller=peek.caller, caller_locals=peek.caller_locals)

# %% [markdown]
# jaxhw's counterpart, from section 3.2's notebook: hyperparameters that must be kept are
# the fields of a frozen dataclass, declared once, so there is no statement to forget; and
# the hyperparameters of training are never attributes of an object at all. They are
# arguments (`fit(..., epochs=3, batch_size=32)`) or values that an optax transformation
# closes over (`optax.sgd(0.1)`), which `jaxhw.fingerprint.describe` reads back to record a
# run's settings in its checkpoints; an optimizer built with `optax.inject_hyperparams` keeps
# them in its state, as arrays that `fit_many` varies per model.

# %%
@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 0.03
    batch_size: int = 32
    epochs: int = 3


def find(tree, name):
    """The first value stored under key `name` in a nested describe() result."""
    if isinstance(tree, dict):
        if name in tree:
            return tree[name]
        tree = list(tree.values())
    if isinstance(tree, list):
        for item in tree:
            found = find(item, name)
            if found is not None:
                return found
    return None


config = Config()
sgd_description = describe(optax.sgd(config.lr))
loss_description = describe(train.supervised_loss(linear.apply, losses.squared_loss))
params = linear.init(jax.random.key(run.seed), num_inputs=2)
state = optax.inject_hyperparams(optax.sgd)(learning_rate=config.lr).init(params)
print(f"Config fields: {[f.name for f in dataclasses.fields(Config)]}; {config}")
print(f"optax.sgd({config.lr}) closes over step_size = {find(sgd_description, 'step_size')}")
print("supervised_loss(linear.apply, squared_loss) closes over:")
for name, value in loss_description["closure"].items():
    print(f"  {name}: {value}")
print(f"inject_hyperparams(optax.sgd) state: {state.hyperparams}")
answers["2"].update({
    "config_fields": [f.name for f in dataclasses.fields(Config)],
    "sgd_step_size": find(sgd_description, "step_size"),
    "loss_closure": loss_description["closure"],
    "injected_learning_rate": float(state.hyperparams["learning_rate"])})

# %% [markdown]
# <details><summary>Answer</summary>
#
# No. Without the call, nothing stores the arguments: `a`, `b` and `c` are local variables of
# `__init__` that vanish when it returns, and `self.a` raises the `AttributeError` printed
# above. `save_hyperparameters` is what turns them into attributes: it takes the calling
# frame (`inspect.currentframe().f_back`, here `B.__init__`), reads its local variables
# (the arguments `a`, `b`, `c` and `self`, as the second printout shows), drops `self`, the
# ignored names and names starting with `_`, keeps the rest in `self.hparams` and sets each as
# an attribute with `setattr`. It saves typing `self.a = a` for every argument, at the price
# of reading another function's frame, which works only if it is called first thing in
# `__init__` (a local defined before the call would be saved too).
#
# jaxhw does not need it: a model's hyperparameters are arguments of `init` (`num_inputs`,
# `sigma`) and shape the params it returns; training's are arguments of `fit` or values the
# optax transformation closes over (the `step_size` of `-0.03` above, read back by
# `describe`), or, with `inject_hyperparams`, entries of the optimizer state. Where a bundle of
# settings is wanted (section 3.2's notebook), a frozen dataclass declares the fields, stores
# them in its generated `__init__`, and refuses later changes; nothing depends on a call
# inside `__init__`. The reason is JAX's: `jit` and `grad` work on functions of arrays, so a
# setting either becomes a static argument, a closed-over constant, or an array in the state,
# never a mutable attribute read while tracing.
#
# </details>

# %%
run.save_metrics({"answers": answers})

"""Which motion clips a task trains on and which it holds out for evaluation.

Shared by the tasks that synthesise their data from motion clips, so that every model is
evaluated on motions it never saw: whole clips are held out, not frames of a seen clip.
"""

from __future__ import annotations

from typing import List


def split_clips(clips, held_out_every: int):
    """Motion clips -> (training clips, held-out clips): every `held_out_every`-th clip in name
    order is held out (0 = none), so validation motions are never seen in training."""
    if held_out_every <= 0:
        return list(clips), list(clips)
    ordered = sorted(clips, key=lambda c: c.name)
    held = [c for i, c in enumerate(ordered) if i % held_out_every == held_out_every // 2]
    train = [c for i, c in enumerate(ordered) if i % held_out_every != held_out_every // 2]
    if not held or not train:
        raise ValueError(f"{len(clips)} clips cannot be split with held_out_every={held_out_every}")
    return train, held


def clips_for_split(clips, split: str, held_out_every: int, extra_procedural: int = 0,
                    fps: float = 10.0, seed: int = 0, body_model="open", mirror: bool = False) -> List:
    """The clips of "train" or "validation". `extra_procedural` embedded procedural clips widen
    the training motion only (evaluation stays on the held-out clips); so does `mirror`, which
    adds the left-right mirror image of every training clip."""
    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    train, held = split_clips(clips, held_out_every)
    if split == "validation":
        return held
    if extra_procedural:
        from posejax.synth.procedural import procedural_clips

        train = train + procedural_clips(int(extra_procedural), fps, seed + 1, body_model=body_model)
    if mirror:
        from posejax.body import as_body_model
        from posejax.synth.motion import mirror_clip

        model = as_body_model(body_model)
        train = train + [mirror_clip(c, model) for c in train]
    return train


def task_motion(builder: str, data, split: str, fps: float, seed: int, body_model="open") -> List:
    """The motion clips a task's `split` draws from, given its `data` config: `data.motion_source`
    split by `clips_for_split` (`held_out_every`, `train_procedural_clips`, `mirror_train_clips`),
    except that a set `data.train_motion_source` replaces the training motion (validation stays on
    the held-out clips of `motion_source`). `builder` names the console lines; `body_model` poses the extra
    procedural clips."""
    from posejax_datasets import common

    procedural = int(data.num_procedural_clips)
    if split == "train" and data.get("train_motion_source", ""):
        return common.load_motion(builder, data.train_motion_source, fps, procedural, seed + 1)
    clips = common.load_motion(builder, data.motion_source, fps, procedural, seed)
    return clips_for_split(clips, split, int(data.held_out_every), int(data.get("train_procedural_clips", 0)),
                           fps, seed, body_model, bool(data.get("mirror_train_clips", False)))

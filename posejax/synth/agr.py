"""Abstract geometry representation (AGR) of multi-person scenes, synthesised from 3D motion.

VirtualPose (Su et al., ECCV 2022) trains its 3D networks only on what a 2D detector would see:
per-joint heatmaps and person boxes. Because that input carries no appearance, it can be
rendered without limit from 3D poses under virtual cameras ("the free lunch"). One scene here:

  * 1 to `max_people` people, each a random frame of a random motion clip, turned to a random
    yaw and stood at a random place of the capture space (a rectangle of the ground, metres;
    people keep `min_separation` apart); with probability `mirror` a person is replaced by their
    mirror image (left and right swapped), which doubles the poses a few clips provide;
  * a virtual camera with known intrinsics: `camera="random"` puts it on a circle around the
    space at a random azimuth, distance, height and field of view, aimed at a random point near
    the space's centre; `camera="fixed"` uses one given camera for every scene (the paper's
    camera-specific training);
  * the AGR at `heatmap_size` (the paper: 240 x 128 for 960 x 512 images): one Gaussian per
    observed joint (sigma `heatmap_sigma` heatmap pixels, peak 1, the maximum where people
    overlap) and a 4-channel box map holding, at each person's root pixel, the distances from that
    pixel to the left, top, right and bottom edges of the person's box (heatmap pixels; zero
    elsewhere); the root is the SMPL pelvis;
  * detector-like corruption of the rendered joints: Gaussian jitter (`jitter_px` image pixels),
    missed joints (`miss_rate`), false positives (on average `false_positives` stray blobs per
    scene, each in a random joint channel), and truncation: joints outside the image are not
    drawn, and boxes are clipped to it. The ground truth stays exact.

Coordinates: world Y up, ground y = 0, metres; OpenCV camera (x right, y down, z forward);
heatmap pixel (u, v) covers image pixels [s u, s (u + 1)) with stride s = image width / heatmap
width, so an image point x maps to x / s - 0.5 in heatmap pixel centres.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from typing import Optional, Sequence, Tuple

import jax.numpy as jnp
import numpy as np

from posejax import fast_compile
from posejax.body import kinematics
from posejax.body.layouts import get_layout
from posejax.body.loading import load_body_model
from posejax.geometry.cameras import intrinsics_from_fov, look_at
from posejax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

__all__ = ["MIN_VISIBLE_JOINTS", "AGRConfig", "synthesize_agr", "circle_camera", "render_heatmaps",
           "render_box_maps", "person_boxes", "to_heatmap_pixels"]


MIN_VISIBLE_JOINTS = 4
"""A person counts as seen with at least this many joints in the image: the VirtualPose task leaves
synthetic people with fewer out of its losses and metrics, and the detector adapter drops such
detections."""


@dataclasses.dataclass(frozen=True)
class AGRConfig:
    """Settings of `synthesize_agr` (module docstring); lengths in metres, angles in degrees.

    Attributes:
      image_size: (W, H) pixels of the virtual image.
      heatmap_size: (W, H) of the AGR maps; both must divide the image by the same stride.
      layout: the joints drawn and estimated (a layout the body model provides).
      min_people, max_people: people per scene.
      space_x, space_z: the capture space on the ground (world X and Z ranges).
      min_separation: smallest distance between two people's roots on the ground.
      camera: "random" or "fixed".
      distance, height, hfov: ranges of the random camera: distance from the space centre on the
        ground, height above the ground, horizontal field of view.
      aim_jitter: the aim point is the space centre at 1 m height plus this much uniform jitter.
      fixed_camera: (K (3, 3), R (3, 3), t (3,)) for camera="fixed".
      heatmap_sigma: Gaussian sigma of a joint, heatmap pixels.
      jitter_px, miss_rate, false_positives: the corruption (image pixels; probability; mean
        count per scene). All zero gives exact AGR.
      box_margin: boxes enclose the person's projected joints plus this fraction of their size on
        each side (detector boxes include the body's outline, not only joint centres).
      mirror: probability that a person is reflected in the vertical plane through their root,
        with left and right keypoints swapped: a pose as plausible as the original (the body
        is close to symmetric) that the motion clips may not contain.
    """

    image_size: Tuple[int, int] = (960, 512)
    heatmap_size: Tuple[int, int] = (240, 128)
    layout: str = "coco17"
    min_people: int = 1
    max_people: int = 3
    space_x: Tuple[float, float] = (-3.0, 3.0)
    space_z: Tuple[float, float] = (-3.0, 3.0)
    min_separation: float = 0.6
    camera: str = "random"
    distance: Tuple[float, float] = (6.0, 10.0)
    height: Tuple[float, float] = (0.8, 3.0)
    hfov: Tuple[float, float] = (50.0, 75.0)
    aim_jitter: float = 0.5
    fixed_camera: Optional[tuple] = None
    heatmap_sigma: float = 2.0
    jitter_px: float = 3.0
    miss_rate: float = 0.05
    false_positives: float = 1.0
    box_margin: float = 0.1
    mirror: float = 0.0

    def __post_init__(self):
        w, h = self.image_size
        hw, hh = self.heatmap_size
        if min(w, h, hw, hh) <= 0 or w * hh != h * hw or w % hw:
            raise ValueError(f"heatmap_size {self.heatmap_size} must divide image_size {self.image_size} "
                             "by one integer stride")
        if not 1 <= self.min_people <= self.max_people:
            raise ValueError(f"need 1 <= min_people <= max_people, got {self.min_people}, {self.max_people}")
        if self.camera not in ("random", "fixed"):
            raise ValueError(f"camera must be 'random' or 'fixed', got {self.camera!r}")
        if self.camera == "fixed" and self.fixed_camera is None:
            raise ValueError("camera='fixed' needs fixed_camera=(K, R, t)")
        for name in ("space_x", "space_z", "distance", "height", "hfov"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"{name} must be a (low, high) range, got {(lo, hi)}")
        if not 0 <= self.mirror <= 1:
            raise ValueError(f"mirror is a probability, got {self.mirror}")
        if not (0 <= self.miss_rate <= 1 and self.jitter_px >= 0 and self.false_positives >= 0
                and self.heatmap_sigma > 0):
            raise ValueError("need 0 <= miss_rate <= 1, jitter_px >= 0, false_positives >= 0, heatmap_sigma > 0")

    @property
    def stride(self) -> int:
        return self.image_size[0] // self.heatmap_size[0]


def to_heatmap_pixels(points, stride: int):
    """Image pixel coordinates (points (..., 2), or box corners (..., 4)) -> heatmap pixel-centre
    coordinates (module docstring)."""
    return np.asarray(points) / stride - 0.5


def render_heatmaps(points, present, heatmap_size, sigma: float) -> np.ndarray:
    """Gaussian joint heatmaps, the maximum over people.

    Args:
      points: (P, J, 2) joint positions in heatmap pixels.
      present: (P, J) bool, the joints to draw.
      heatmap_size: (W, H).
      sigma: Gaussian sigma, heatmap pixels.

    Returns:
      (J, H, W) float32 in [0, 1].
    """
    w, h = heatmap_size
    pts = np.asarray(points, np.float32)
    gx = np.exp(-0.5 * ((np.arange(w, dtype=np.float32) - pts[..., :1]) / sigma) ** 2)   # (P, J, W)
    gy = np.exp(-0.5 * ((np.arange(h, dtype=np.float32) - pts[..., 1:]) / sigma) ** 2)   # (P, J, H)
    maps = gy[..., :, None] * gx[..., None, :] * np.asarray(present, np.float32)[..., None, None]
    return maps.max(0) if len(maps) else np.zeros((pts.shape[1], h, w), np.float32)


def person_boxes(points, present, margin: float, image_size) -> np.ndarray:
    """(P, 4) boxes (left, top, right, bottom), image pixels: the present joints' extent plus
    `margin` of its size on each side, clipped to the image; NaN for people with no joint."""
    pts = np.where(np.asarray(present)[..., None], np.asarray(points, np.float64), np.nan)
    with warnings.catch_warnings():  # people without a present joint give NaN, by design
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(pts, 1), np.nanmax(pts, 1)
    pad = margin * (hi - lo)
    w, h = image_size
    box = np.concatenate([lo - pad, hi + pad], -1)
    return np.clip(box, 0.0, [w, h, w, h]).astype(np.float32)


def render_box_maps(roots, boxes, heatmap_size, stride: int) -> np.ndarray:
    """(4, H, W) box maps: at each root's heatmap pixel, the distances (heatmap pixels) from that
    pixel's centre to the box's left, top, right and bottom edges; zero elsewhere.

    Args:
      roots: (P, 2) root positions, image pixels (people whose root falls outside the heatmap, or
        whose box is NaN, are left out).
      boxes: (P, 4) image-pixel boxes (`person_boxes`).
    """
    w, h = heatmap_size
    out = np.zeros((4, h, w), np.float32)
    for root, box in zip(np.asarray(roots), np.asarray(boxes)):
        u, v = np.floor(np.asarray(root) / stride).astype(int)
        if not (0 <= u < w and 0 <= v < h) or not np.all(np.isfinite(box)):
            continue
        cu, cv = (u + 0.5) * stride, (v + 0.5) * stride
        out[:, v, u] = np.array([cu - box[0], cv - box[1], box[2] - cu, box[3] - cv]) / stride
    return out


@functools.lru_cache(maxsize=4)
def _pose_fn(body_model: str, layout: str):
    model = load_body_model(body_model)

    @fast_compile.jit
    def points(pose, betas, transl, yaw):
        """Keypoints (N, J, 3) and pelvis (N, 3) of poses turned by `yaw` about the vertical."""
        turn = axis_angle_to_matrix(jnp.stack([jnp.zeros_like(yaw), yaw, jnp.zeros_like(yaw)], -1))
        root = matrix_to_axis_angle(turn @ axis_angle_to_matrix(pose[:, 0]))
        pose = jnp.concatenate([root[:, None], pose[:, 1:]], 1)
        kp = kinematics.keypoints(model, layout, pose, betas, transl)
        return kp, kinematics.joints(model, pose, betas, transl)[..., 0, :]
    return points


def _place_people(rng, n, config):
    """(n, 2) ground positions at least `min_separation` apart (rejection sampling)."""
    spots = []
    for _ in range(200 * n):
        p = np.array([rng.uniform(*config.space_x), rng.uniform(*config.space_z)])
        if all(np.linalg.norm(p - q) >= config.min_separation for q in spots):
            spots.append(p)
            if len(spots) == n:
                break
    if len(spots) < n:
        raise ValueError(f"cannot place {n} people {config.min_separation} m apart in the capture space")
    return np.stack(spots)


def circle_camera(config: AGRConfig, azimuth_deg: float, distance: float, height: float, hfov_deg: float,
                  aim_offset=(0.0, 0.0, 0.0)):
    """A camera placed as the random ones are: `distance` metres from the capture space's centre
    on the ground at `azimuth_deg` (0 = +Z), `height` metres up, aimed at the centre 1 m above
    the ground (plus `aim_offset`), with a horizontal field of view of `hfov_deg`.

    Returns:
      (K (3, 3), R (3, 3), t (3,)) float64, for `config.image_size`.
    """
    w, h = config.image_size
    centre = np.array([np.mean(config.space_x), 0.0, np.mean(config.space_z)])
    azimuth = math.radians(azimuth_deg)
    eye = centre + np.array([distance * math.sin(azimuth), height, distance * math.cos(azimuth)])
    aim = centre + np.array([0.0, 1.0, 0.0]) + np.asarray(aim_offset, np.float64)
    R, t = look_at(eye.astype(np.float32), aim.astype(np.float32))
    K = intrinsics_from_fov(np.float32(math.radians(hfov_deg)), (w, h))
    return np.asarray(K, np.float64), np.asarray(R, np.float64), np.asarray(t, np.float64)


def _random_camera(rng, config):
    azimuth = math.degrees(rng.uniform(0, 2 * math.pi))
    dist = rng.uniform(*config.distance)
    height = rng.uniform(*config.height)
    aim_offset = rng.uniform(-1, 1, 3) * config.aim_jitter
    return circle_camera(config, azimuth, dist, height, rng.uniform(*config.hfov), aim_offset)


def synthesize_agr(seed: int, clips: Sequence, num_scenes: int, config: AGRConfig = AGRConfig(),
                   body_model: str = "open") -> dict:
    """`num_scenes` AGR scenes with their 3D truth (module docstring), deterministic in `seed`.

    Args:
      seed: random seed.
      clips: `posejax.synth.motion.MotionClip`s to draw poses from.
      num_scenes: scenes to make.
      config: AGRConfig.
      body_model: body model name.

    Returns:
      dict of stacked NumPy arrays, P = config.max_people, J = the layout's joints:
        heatmaps (N, J, H, W), box_maps (N, 4, H, W): the AGR;
        K (N, 3, 3), R (N, 3, 3), t (N, 3): the camera (image pixels, world to camera);
        joints3d (N, P, J, 3) and roots3d (N, P, 3): world metres (zeros for absent people);
        joints2d (N, P, J, 2), roots2d (N, P, 2): exact projections, image pixels;
        boxes (N, P, 4): image pixels; people (N, P) bool: present; num_people (N,);
        visible (N, P, J) bool: the joint projects into the image, in front of the camera (before
        the corruption drops any).
    """
    if not clips:
        raise ValueError("need at least one motion clip")
    cfg = config
    # Separate streams for the scene and its corruption: the same seed gives the same people and
    # cameras whatever the corruption settings.
    rng, noise = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    p_max, j = cfg.max_people, get_layout(cfg.layout).num_keypoints
    counts = rng.integers(cfg.min_people, cfg.max_people + 1, num_scenes)
    # Every person of every scene in one batched kinematics call.
    poses, betas, transl = [], [], []
    for n in counts:
        spots = _place_people(rng, n, cfg)
        for i in range(p_max):
            clip = clips[rng.integers(len(clips))]
            f = rng.integers(clip.num_frames)
            spot = spots[i] if i < n else np.zeros(2)
            poses.append(clip.pose[f])
            betas.append(clip.betas)
            transl.append(np.array([spot[0], clip.transl[f, 1], spot[1]], np.float32))
    yaws = rng.uniform(-math.pi, math.pi, len(poses)).astype(np.float32)
    points = _pose_fn(body_model, cfg.layout)
    kp, pelvis = (np.array(x) for x in points(np.stack(poses), np.stack(betas), np.stack(transl), yaws))
    # Turning the root moves the pelvis about the model origin: put each pelvis back over its spot.
    shift = np.stack(transl)[:, [0, 2]] - pelvis[:, [0, 2]]
    kp[..., [0, 2]] += shift[:, None]
    pelvis[:, [0, 2]] += shift
    # Mirroring draws from its own stream, so mirror=0 gives the scenes it always gave.
    flipped = np.random.default_rng([seed, 2]).random(len(kp)) < cfg.mirror
    if flipped.any():
        mirrored = kp[flipped][:, np.asarray(get_layout(cfg.layout).flip_indices)]
        mirrored[..., 0] = 2 * pelvis[flipped, None, 0] - mirrored[..., 0]
        kp[flipped] = mirrored
    kp = kp.reshape(num_scenes, p_max, j, 3)
    pelvis = pelvis.reshape(num_scenes, p_max, 3)

    w, h = cfg.image_size
    out = {k: [] for k in ("heatmaps", "box_maps", "K", "R", "t", "joints3d", "roots3d", "joints2d",
                           "roots2d", "boxes", "people", "num_people", "visible")}
    for s, n in enumerate(counts):
        K, R, t = _random_camera(rng, cfg) if cfg.camera == "random" else (np.asarray(x, np.float64) for x in cfg.fixed_camera)
        people = np.arange(p_max) < n
        cam = kp[s] @ R.T + t
        depth = cam[..., 2]
        px = (cam[..., :2] / np.maximum(depth, 1e-3)[..., None]) @ K[:2, :2].T + K[:2, 2]
        root_cam = pelvis[s] @ R.T + t
        root_px = (root_cam[:, :2] / np.maximum(root_cam[:, 2:], 1e-3)) @ K[:2, :2].T + K[:2, 2]
        inside = (depth > 0.1) & (px[..., 0] >= 0) & (px[..., 0] < w) & (px[..., 1] >= 0) & (px[..., 1] < h)
        seen = inside & people[:, None]
        # Detector-like corruption of what is drawn; the truth stays exact.
        drawn = px + noise.normal(0.0, cfg.jitter_px, px.shape) if cfg.jitter_px > 0 else px.copy()
        kept = seen & (noise.random(seen.shape) >= cfg.miss_rate)
        heat = render_heatmaps(to_heatmap_pixels(drawn, cfg.stride), kept, cfg.heatmap_size, cfg.heatmap_sigma)
        for _ in range(noise.poisson(cfg.false_positives)):
            blob = render_heatmaps(np.array([[[noise.uniform(0, cfg.heatmap_size[0]),
                                               noise.uniform(0, cfg.heatmap_size[1])]]]), np.ones((1, 1), bool),
                                   cfg.heatmap_size, cfg.heatmap_sigma)[0]
            c = noise.integers(j)
            heat[c] = np.maximum(heat[c], blob)
        boxes = person_boxes(px, seen, cfg.box_margin, cfg.image_size)
        boxes[~people] = np.nan
        out["heatmaps"].append(heat)
        out["box_maps"].append(render_box_maps(root_px[people], boxes[people], cfg.heatmap_size, cfg.stride))
        out["K"].append(K)
        out["R"].append(R)
        out["t"].append(t)
        out["joints3d"].append(np.where(people[:, None, None], kp[s], 0.0))
        out["roots3d"].append(np.where(people[:, None], pelvis[s], 0.0))
        out["joints2d"].append(np.where(people[:, None, None], px, 0.0))
        out["roots2d"].append(np.where(people[:, None], root_px, 0.0))
        out["boxes"].append(np.where(people[:, None], np.nan_to_num(boxes), 0.0))
        out["people"].append(people)
        out["num_people"].append(n)
        out["visible"].append(seen)
    dtypes = {"people": bool, "num_people": np.int32, "visible": bool}
    return {k: np.stack(v).astype(dtypes.get(k, np.float32)) for k, v in out.items()}

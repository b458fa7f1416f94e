"""Readers and writers: motion capture, 2D keypoints, calibration, AMASS, results and video frames."""

from posejax.io.amass import amass_to_y_up, read_amass, write_amass_npz
from posejax.io.asf_amc import (AmcMotion, AsfBone, AsfSkeleton, asf_amc_positions, read_amc, read_asf,
                                read_asf_amc)
from posejax.io.bvh import guess_bvh_scale, read_bvh
from posejax.io.calibration import (Camera, read_calibration, read_calibration_json, read_calibration_toml,
                                    read_qca, to_perspective_camera, write_calibration,
                                    write_calibration_json, write_calibration_toml)
from posejax.io.coco_json import CocoKeypoints, read_coco_keypoints, write_coco_keypoints
from posejax.io.mediapipe import (MEDIAPIPE_NAMES, read_mediapipe, read_mediapipe_csv, read_mediapipe_npz,
                                  write_mediapipe_csv, write_mediapipe_npz)
from posejax.io.openpose import (OpenPoseSequence, bbox_areas, read_openpose_folder, read_openpose_json,
                                 sequence_from_array, write_openpose_folder)
from posejax.io.results import load_results, save_results
from posejax.io.skeleton_motion import SkeletonMotion
from posejax.io.video import check_video, read_video_frames

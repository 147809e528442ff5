"""Environment throughput: steps per second of ``OpenManipulatorX-ObstacleReach-v0`` next to
panda-gym's ``PandaReach-v3`` and ``PandaPush-v3``, measured in the same run, with ratios.

Every env takes seeded uniformly random actions and resets when an episode ends (resets count
in the time, as in training). Ours measures, every step, the CAD truth channel on ROBOTIS' meshes
(obstacles, self, table; PyBullet's contacts on the bound measured again on the meshes), the
sphere bound's clearance (obstacles, self, table), PyBullet's closest points of the pairs it finds
near (``clearance="both"``, the default) and the contact list; the ``clearance="numpy"`` row skips
PyBullet's closest points, as training may. The truth channel's own CPU time and mesh queries per
step are printed apart (culled by the bound, as the env does, and unculled). Each env is
measured in one process and in vector envs of 2 sub-environments (steps counted over both):

* ``AsyncVectorEnv x2``: Gymnasium's, 3 processes (this one and 2 workers, each stepping one
  sub-environment; this one waits while they step, then merges their results).
* ``HybridVectorEnv 2x1`` (:class:`sim.env.vector.HybridVectorEnv`): 2 processes, the "2-process vector
  env" of the targets: this process steps sub-environment 0 itself while one worker process steps
  sub-environment 1 (actions and observations through shared memory, the rest one pickled message
  each way); the same episodes as ``SyncVectorEnv`` for the same seeds.
* ``HybridVectorEnv 2x4`` (``--per-process``): the same 2 processes with 4 sub-environments each
  (8 in all, ``num_processes=2``): the lockstep of a vector step (a message each way, a wake-up,
  the wait for the slower process) is paid once per 4 env steps of each process. For ``cluttered``
  the run also sweeps 1, 2, 4 and 8 sub-environments per process.
* ``SyncVectorEnv x2``: both in this process, for reference.
* ``2 processes, apart``: no vector env: two single-process loops in two processes at once (started
  together after their warm-up), rates summed: how far two processes scale on this machine with no
  lockstep and no messages, the ceiling of any 2-process vector env here.

The floor rows are physics alone: our robot stepped at 240 Hz, 12 substeps per control step, with
nothing else (no obstacles, no measurement), and the same in ``cluttered`` scenes with the per-
substep contact polls the env needs (no resets, no clearance, no observation), against
PandaReach's full step. The action sampling of the loop (``action_space.sample()``, the same for
every env) is timed on its own.

The machine's other load moves all rates alike, so read the ratios: cases are interleaved and the
best of ``--repeats`` rounds is kept. Because a busy machine leaves a second process no core of its
own, CPU time per step is printed too (one process; for vector envs this process's and the
workers'), which other load hardly moves, with the speed-up two idle cores would allow at most
(pipe latency not counted): for AsyncVectorEnv ``2 c1 / (c_worker + 2 c_main)`` (per env step,
the main process's share serial with the workers'), for HybridVectorEnv ``c1 / max(c_main,
c_worker)`` (the two processes work at once, a vector step takes the longer of the two).

Run: ``python benchmarks/env_throughput.py [--steps 3000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

import sim
from sim.env.vector import HybridVectorEnv

OUR_ID = sim.ENV_IDS[0]
PEER_ID = "PandaReach-v3"
OTHER_PEER_ID = "PandaPush-v3"
SINGLE, ASYNC, SYNC = "1 process", "AsyncVectorEnv x2", "SyncVectorEnv x2"
INDEPENDENT = "2 processes, apart"  #: two single-process loops at once, no vector env: what the cores allow
HYBRID = "HybridVectorEnv 2x1"  #: 2 sub-environments, one per process
PER_PROCESS = 4  #: sub-environments per process of the grouped HybridVectorEnv rows (--per-process)
SWEEP = (1, 2, 4, 8)  #: sub-environments per process of the cluttered sweep


class CpuClock(gym.Wrapper):
    """Passes everything through; ``process_time()`` reads the CPU clock of the process the env runs
    in (``AsyncVectorEnv.call("process_time")`` reads each worker's)."""

    def process_time(self) -> float:
        return time.process_time()


class Ours:
    """Picklable env factory (AsyncVectorEnv workers are started with fork or spawn)."""

    def __init__(self, scenario: str, clearance: str = "both", contact_physics: str = "none") -> None:
        self.scenario, self.clearance, self.contact_physics = scenario, clearance, contact_physics

    def __call__(self) -> gym.Env:
        return CpuClock(gym.make(OUR_ID, scenario=self.scenario, clearance=self.clearance,
                                 contact_physics=self.contact_physics))


class Panda:
    """Picklable factory of a panda-gym env (both need ``render_mode="rgb_array"`` to be created)."""

    def __init__(self, env_id: str) -> None:
        self.env_id = env_id

    def __call__(self) -> gym.Env:
        try:
            import panda_gym  # noqa: F401  (registers the Panda envs)
        except ImportError as error:
            raise SystemExit("this benchmark compares with panda-gym: pip install panda-gym") from error
        return CpuClock(gym.make(self.env_id, render_mode="rgb_array"))


class Rate(NamedTuple):
    """One measurement: wall-clock rate and CPU time per environment step."""

    steps_per_s: float
    main_cpu_us: float  #: CPU of the calling process per env step
    worker_cpu_us: float = 0.0  #: CPU of the worker processes per env step (AsyncVectorEnv)


def single_rate(make: Callable[[], gym.Env], steps: int, seed: int = 0, barrier: Any = None) -> Rate:
    """Environment steps per second of one env in this process (after ``barrier``, if given, is passed)."""
    env = make()
    env.reset(seed=seed)
    env.action_space.seed(seed)
    env.step(env.action_space.sample())  # warm-up (numba, first contact queries)
    if barrier is not None:
        barrier.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    env.close()
    return Rate(steps / elapsed, 1e6 * cpu / steps)


def vector_rate(make: Callable[[], gym.Env], steps: int, vector: Callable[..., gym.vector.VectorEnv],
                workers: int = 2, seed: int = 0) -> Rate:
    """Environment steps per second summed over a vector env of ``workers`` sub-environments
    (sub-environments reset themselves when an episode ends)."""
    envs = vector([make] * workers)
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    for _ in range(3):  # warm-up: worker start, numba, first contact queries
        envs.step(envs.action_space.sample())
    worker_cpu = _worker_cpu(envs)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps // workers):
        envs.step(envs.action_space.sample())
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    worker_cpu = _worker_cpu(envs) - worker_cpu
    envs.close()
    done = (steps // workers) * workers
    return Rate(done / elapsed, 1e6 * cpu / done, 1e6 * worker_cpu / done)


_BARRIER: Any = None


def _keep_barrier(barrier: Any) -> None:
    global _BARRIER
    _BARRIER = barrier


def _apart_rate(make: Callable[[], gym.Env], steps: int, seed: int) -> Rate:
    return single_rate(make, steps, seed, _BARRIER)


def independent_rate(make: Callable[[], gym.Env], steps: int) -> Rate:
    """Two single-process loops (seeds 0 and 1) in two spawned processes at once, started together by a
    barrier after their warm-up: the summed rate is the scaling two processes get with no vector env
    (no lockstep, no messages), the ceiling a 2-process vector env could reach on this machine."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    with ProcessPoolExecutor(2, mp_context=context, initializer=_keep_barrier, initargs=(barrier,)) as pool:
        first, second = pool.map(_apart_rate, [make, make], [steps, steps], [0, 1])
    return Rate(first.steps_per_s + second.steps_per_s, first.main_cpu_us, second.main_cpu_us)


def _worker_cpu(envs: gym.vector.VectorEnv) -> float:
    """CPU seconds the worker processes of ``envs`` have used (0 for SyncVectorEnv, which has none;
    HybridVectorEnv's sub-environment 0 runs in this process, counted as its CPU)."""
    if isinstance(envs, gym.vector.AsyncVectorEnv):
        return float(sum(envs.call("process_time")))
    if isinstance(envs, HybridVectorEnv):  # one reading per worker process (its first sub-environment's)
        times = envs.call("process_time")
        return float(sum(times[group.start] for group in envs.process_groups[1:]))
    return 0.0


def physics_floor_rate(steps: int) -> Rate:
    """Control steps per second of our robot's bare physics: 12 substeps of 1/240 s, position
    targets set once per step, no obstacles and nothing measured."""
    from sim.env.world import World

    rng = np.random.default_rng(0)
    targets = rng.uniform(-1.0, 1.0, (steps, 4)) * np.array([3.0, 1.4, 1.4, 1.6])
    with World() as world:
        world.step(12)
        start, cpu = time.perf_counter(), time.process_time()
        for target in targets:
            world.set_position_targets(target)
            world.step(12)
        return Rate(steps / (time.perf_counter() - start), 1e6 * (time.process_time() - cpu) / steps)


def cluttered_physics_rate(steps: int, seed: int = 0) -> Rate:
    """Control steps per second of the physics of ``cluttered`` scenes alone: the env's commands,
    12 substeps with the joint angles read after each, the fingers held, as ``ObstacleReachEnv.step``
    does them (``contact_physics="none"``), without the contact search, resets, clearances or
    observations (a new
    scene every 100 steps, outside the timing)."""
    env = gym.make(OUR_ID, scenario="cluttered").unwrapped
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1.0, 1.0, (steps, 4)).astype(np.float32)
    elapsed = cpu = 0.0
    for start in range(0, steps, 100):
        env.reset(seed=seed + start)
        world = env.world
        wall, clock = time.perf_counter(), time.process_time()
        for action in actions[start:start + 100]:  # the default contact_physics="none": joints read per substep
            world.set_position_targets(env.action_to_joint_targets(action))
            world.step_recording_joints(env.substeps)
            world.reset_gripper(0.0)
        elapsed, cpu = elapsed + time.perf_counter() - wall, cpu + time.process_time() - clock
    env.close()
    return Rate(steps / elapsed, 1e6 * cpu / steps)


class FixedWork(gym.Env):
    """An env with our observation space and an info dict like ours whose step burns ``WORK_S`` of CPU
    time and does nothing else: a vector env's own cost is the CPU beyond that."""

    WORK_S = 300e-6

    def __init__(self) -> None:
        from sim.env.env_spaces import observation_space

        self.observation_space = observation_space(8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        self._observation = {key: np.zeros(space.shape, np.float32)
                             for key, space in self.observation_space.spaces.items()}
        self._info = {"is_success": False, "collided": False, "target_error_m": 0.3, "orientation_error_rad": 1.8,
                      "min_clearance_m": 0.04, "closest_link": "link5", "closest_obstacle": "sphere_2",
                      "pybullet_clearance_m": 0.04, "self_clearance_m": 0.06, "contacts": (), "time_s": 0.0}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        return dict(self._observation), dict(self._info)

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        end = time.thread_time() + self.WORK_S
        while time.thread_time() < end:
            pass
        return dict(self._observation), -1.0, False, False, dict(self._info)

    def process_time(self) -> float:
        return time.process_time()


def vector_overhead_us(steps: int) -> tuple[float, float]:
    """CPU time (us) per vector step that HybridVectorEnv 2x1 adds, in this process and in its worker, to
    sub-environments whose steps cost a fixed ``FixedWork.WORK_S`` each (the actions drawn outside)."""
    envs = HybridVectorEnv([FixedWork] * 2)
    envs.reset(seed=0)
    actions = np.zeros((2, 4), np.float32)
    for _ in range(20):
        envs.step(actions)
    worker, cpu = envs.call("process_time")[1], time.process_time()
    for _ in range(steps // 2):
        envs.step(actions)
    cpu, worker = time.process_time() - cpu, envs.call("process_time")[1] - worker
    envs.close()
    work = FixedWork.WORK_S * (steps // 2)
    return 1e6 * (cpu - work) / (steps // 2), 1e6 * (worker - work) / (steps // 2)


class CadCost(NamedTuple):
    """The truth channel's share of a ``cluttered`` step (measured on the states random actions reach)."""

    culled_us: float  #: CPU per step of ``sim.robot.cad.measure`` culled by the bound, as the env calls it
    unculled_us: float  #: the same without culling (every pair measured)
    bound_us: float  #: the sphere bound's measurement (``arm_clearances``) it is culled by
    queries_mean: float  #: link-obstacle and link-pair measurements per step, culled
    queries_p99: float
    queries_unculled: float


def cad_channel_cost(steps: int, seed: int = 0) -> CadCost:
    """CPU time of the CAD truth channel alone, on the configurations and scenes of ``steps`` random-action
    ``cluttered`` steps, culled by the sphere bound as the env does it and unculled."""
    from sim.robot.cad import measure
    from sim.robot.collision import arm_clearances

    env = gym.make(OUR_ID, scenario="cluttered", clearance="pybullet")  # the cheapest way to the states
    env.reset(seed=seed)
    env.action_space.seed(seed)
    states = []
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        states.append((env.unwrapped.joint_positions(), env.unwrapped.obstacle_set()))
        if terminated or truncated:
            env.reset()
    env.close()
    bounds = [arm_clearances(q, obstacles) for q, obstacles in states]
    cpu = time.process_time()
    for q, obstacles in states:
        arm_clearances(q, obstacles)
    bound_us = 1e6 * (time.process_time() - cpu) / steps
    cpu = time.process_time()
    culled = [measure(q, obstacles, bound_per_link=bound.per_link_m, bound_self_m=bound.self_m, validate=False).queries
              for (q, obstacles), bound in zip(states, bounds, strict=True)]
    culled_us = 1e6 * (time.process_time() - cpu) / steps
    cpu = time.process_time()
    unculled = [measure(q, obstacles, validate=False).queries for q, obstacles in states]
    unculled_us = 1e6 * (time.process_time() - cpu) / steps
    return CadCost(culled_us, unculled_us, bound_us, float(np.mean(culled)), float(np.percentile(culled, 99)),
                   float(np.mean(unculled)))


def sampling_cpu_us(steps: int) -> float:
    """CPU time (us) of one ``action_space.sample()`` of a (4,) Box, as every benchmark loop draws it."""
    space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32, seed=0)
    cpu = time.process_time()
    for _ in range(steps):
        space.sample()
    return 1e6 * (time.process_time() - cpu) / steps


def quick(steps: int, repeats: int) -> None:
    """One process: PandaReach-v3 and ours in ``cluttered`` with either contact physics, interleaved."""
    makes = {PEER_ID: Panda(PEER_ID), "ours cluttered": Ours("cluttered"),
             "ours cluttered, contact_physics=bound": Ours("cluttered", contact_physics="bound")}
    best: dict[str, Rate] = {}
    load_before = os.getloadavg()[0]
    for _ in range(repeats):
        for name, make in makes.items():
            rate = single_rate(make, steps)
            kept = best.get(name, rate)
            best[name] = Rate(max(kept.steps_per_s, rate.steps_per_s), min(kept.main_cpu_us, rate.main_cpu_us))
    cad = cad_channel_cost(steps)
    print(f"one process, best of {repeats} interleaved rounds x {steps} steps, random actions, resets included; "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}\n")
    print(f"| environment | steps/s | vs {PEER_ID} | CPU us/step | CPU vs {PEER_ID} |")
    print("|---|---|---|---|---|")
    peer = best[PEER_ID]
    for name, rate in best.items():
        print(f"| {name} | {rate.steps_per_s:.0f} | {rate.steps_per_s / peer.steps_per_s:.2f}x "
              f"| {rate.main_cpu_us:.0f} | {peer.main_cpu_us / rate.main_cpu_us:.2f}x |")
    print(f"\nthe CAD truth channel: {cad.culled_us:.1f} us CPU per step culled by the bound ({cad.queries_mean:.2f} "
          f"mesh queries, p99 {cad.queries_p99:.0f}), {cad.unculled_us:.1f} us unculled ({cad.queries_unculled:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="steps per measurement (default 3000)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many interleaved rounds (default 3)")
    parser.add_argument("--no-sync", action="store_true", help="skip the SyncVectorEnv rows")
    parser.add_argument("--per-process", type=int, default=PER_PROCESS,
                        help="sub-environments per process of the grouped HybridVectorEnv rows "
                             f"(default {PER_PROCESS})",
                        )
    parser.add_argument("--quick", action="store_true",
                        help="only the one-process rows of PandaReach-v3 and ours in cluttered, both contact physics "
                             "(about a minute), and the CAD channel's cost")
    args = parser.parse_args()
    if args.steps < 10 or args.repeats < 1 or args.per_process < 1:
        parser.error("--steps must be >= 10, --repeats >= 1 and --per-process >= 1")
    if args.quick:
        quick(args.steps, args.repeats)
        return
    grouped = f"HybridVectorEnv 2x{args.per_process}"
    envs: dict[str, Callable[[], gym.Env]] = {
        PEER_ID: Panda(PEER_ID), OTHER_PEER_ID: Panda(OTHER_PEER_ID),
        "ours empty": Ours("empty"), "ours single": Ours("single"), "ours cluttered": Ours("cluttered"),
        "ours cluttered, clearance=numpy": Ours("cluttered", "numpy"),
    }
    modes: dict[str, Callable[[Callable[[], gym.Env]], Rate]] = {
        SINGLE: lambda make: single_rate(make, args.steps),
        ASYNC: lambda make: vector_rate(make, args.steps, gym.vector.AsyncVectorEnv),
        HYBRID: lambda make: vector_rate(make, args.steps, HybridVectorEnv),
        grouped: lambda make: vector_rate(make, args.steps, lambda fns: HybridVectorEnv(fns, num_processes=2),
                                          2 * args.per_process),
        INDEPENDENT: lambda make: independent_rate(make, args.steps),
    }
    if not args.no_sync:
        modes[SYNC] = lambda make: vector_rate(make, args.steps, gym.vector.SyncVectorEnv)
    best: dict[tuple[str, str], Rate] = {}  # the fastest round's rate, the least CPU time of any round

    def keep(key: tuple[str, str], rate: Rate) -> None:
        kept = best.get(key)
        if kept is None:
            best[key] = rate
        else:
            best[key] = Rate(max(kept.steps_per_s, rate.steps_per_s),
                             *(min(a, b) if b else a for a, b in zip(kept[1:], rate[1:], strict=True)))

    load_before = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name, make in envs.items():
            for mode, measure in modes.items():
                keep((name, mode), measure(make))
        keep(("floor", SINGLE), physics_floor_rate(args.steps))
        keep(("cluttered floor", SINGLE), cluttered_physics_rate(args.steps))
        keep(("sampling", SINGLE), Rate(0.0, sampling_cpu_us(args.steps)))
        for count in SWEEP:
            keep(("cluttered sweep", str(count)), vector_rate(
                envs["ours cluttered"], args.steps, lambda fns: HybridVectorEnv(fns, num_processes=2), 2 * count))
        keep(("vector overhead", HYBRID), Rate(0.0, *vector_overhead_us(args.steps)))
    load_after = os.getloadavg()[0]
    cad = cad_channel_cost(args.steps)

    print(f"steps/s, best of {args.repeats} interleaved rounds x {args.steps} steps, random actions, resets "
          f"included; {os.cpu_count()} cores, load average {load_before:.1f} -> {load_after:.1f}\n")
    print(f"| {'environment':32s} | {'mode':18s} | {'steps/s':>8s} | {'vs ' + PEER_ID:>16s} | {'vs 1 process':>12s} "
          f"| {'CPU us/step':>11s} | {'CPU vs ' + PEER_ID:>20s} | {'idle-core bound':>15s} |")
    print(f"|{'-' * 34}|{'-' * 20}|{'-' * 10}|{'-' * 18}|{'-' * 14}|{'-' * 13}|{'-' * 22}|{'-' * 17}|")
    for name in envs:
        for mode in modes:
            rate = best[(name, mode)]
            peer = rate.steps_per_s / best[(PEER_ID, mode)].steps_per_s
            scaling = "" if mode == SINGLE else f"{rate.steps_per_s / best[(name, SINGLE)].steps_per_s:.2f}x"
            cpu = rate.main_cpu_us + rate.worker_cpu_us
            if mode == SINGLE:
                cpu_text, cpu_peer = f"{cpu:.0f}", f"{best[(PEER_ID, SINGLE)].main_cpu_us / cpu:.2f}x"
            elif mode in (ASYNC, HYBRID, grouped, INDEPENDENT):
                cpu_text, cpu_peer = f"{rate.main_cpu_us:.0f} + {rate.worker_cpu_us:.0f}", ""
            else:
                cpu_text, cpu_peer = f"{cpu:.0f}", ""
            # Two idle cores: per vector step the workers run in parallel (c_worker each) and the
            # main process's work (2 c_main) follows serially.
            bound, single_cpu = "", best[(name, SINGLE)].main_cpu_us
            if mode == ASYNC and rate.worker_cpu_us:
                bound = f"{2 * single_cpu / (rate.worker_cpu_us + 2 * rate.main_cpu_us):.2f}x"
            elif mode in (HYBRID, grouped) and rate.worker_cpu_us:  # both processes at once: the slower sets the pace
                bound = f"{single_cpu / max(rate.main_cpu_us, rate.worker_cpu_us):.2f}x"
            print(f"| {name:32s} | {mode:18s} | {rate.steps_per_s:8.0f} | {peer:15.2f}x | {scaling:>12s} "
                  f"| {cpu_text:>11s} | {cpu_peer:>20s} | {bound:>15s} |")
    peer_single = best[(PEER_ID, SINGLE)]
    for key, label in (("floor", "floor: our bare physics"), ("cluttered floor", "floor: cluttered physics+joints")):
        floor = best[(key, SINGLE)]
        print(f"| {label:32s} | {SINGLE:18s} | {floor.steps_per_s:8.0f} | "
              f"{floor.steps_per_s / peer_single.steps_per_s:15.2f}x | {'':>12s} | {floor.main_cpu_us:11.0f} "
              f"| {peer_single.main_cpu_us / floor.main_cpu_us:19.2f}x | {'':>15s} |")
    ours = best[("ours cluttered", SINGLE)]
    cluttered = ours.steps_per_s / peer_single.steps_per_s
    print(f"\ntargets: cluttered (CAD truth channel on) >= 1.8x {PEER_ID} in one process (#23; 2.0x before the CAD "
          f"channel, #15): {cluttered:.2f}x wall, {peer_single.main_cpu_us / ours.main_cpu_us:.2f}x CPU "
          f"({'met' if cluttered >= 1.8 else 'not met'})")
    print(f"         the CAD truth channel: {cad.culled_us:.1f} us CPU per step culled by the bound (the sphere "
          f"bound's own measurement {cad.bound_us:.1f} us), {cad.unculled_us:.1f} us unculled; mesh queries per step "
          f"{cad.queries_mean:.2f} (p99 {cad.queries_p99:.0f}) culled, {cad.queries_unculled:.1f} unculled")
    apart = best[("ours cluttered", INDEPENDENT)].steps_per_s / ours.steps_per_s
    print(f"         two independent processes (no vector env) reach {apart:.2f}x one process: the ceiling here")
    for mode in (ASYNC, HYBRID, grouped):
        vector = best[("ours cluttered", mode)]
        scaling = vector.steps_per_s / ours.steps_per_s
        print(f"         vector env >= 1.7x one process, {mode}: {scaling:.2f}x wall "
              f"({'met' if scaling >= 1.7 else 'not met'})")
    sweep = ", ".join(f"{count}: {best[('cluttered sweep', str(count))].steps_per_s / ours.steps_per_s:.2f}x"
                      for count in SWEEP)
    print(f"         cluttered, HybridVectorEnv over 2 processes by sub-environments per process: {sweep}")
    main_extra, worker_extra = best[("vector overhead", HYBRID)][1:]
    hybrid = best[("ours cluttered", HYBRID)]
    print(f"HybridVectorEnv 2x1's own CPU per vector step (sub-environments of a fixed {1e6 * FixedWork.WORK_S:.0f} us "
          f"step, actions drawn outside): {main_extra:.0f} us here, {worker_extra:.0f} us in the worker; with "
          f"cluttered's {ours.main_cpu_us:.0f} us step it would allow "
          f"{2 * ours.main_cpu_us / (ours.main_cpu_us + main_extra):.2f}x on two idle cores; measured, a cluttered "
          f"step cost {2 * hybrid.main_cpu_us:.0f} us here and {2 * hybrid.worker_cpu_us:.0f} us in the worker per "
          f"vector step (two processes running at once on this machine's 2 cores, other load included).")
    budget = peer_single.main_cpu_us / 2.0
    physics, sampling = best[("cluttered floor", SINGLE)].main_cpu_us, best[("sampling", SINGLE)].main_cpu_us
    left = budget - physics - sampling
    print(f"2.0x in CPU time allows {budget:.0f} us per step; cluttered physics with its contact polls takes "
          f"{physics:.0f} us and the loop's action sampling {sampling:.0f} us, leaving {left:.0f} "
          f"us for resets (scene sampling, obstacle bodies), clearances and the observation; ours uses "
          f"{ours.main_cpu_us - physics - sampling:.0f} us.")
    print("CPU us/step: one process's CPU time per env step; vector envs: this process + workers per env step "
          "(AsyncVectorEnv: 3 processes, this one waiting while 2 workers step; HybridVectorEnv: 2 processes, this "
          "one stepping its sub-environments while 1 worker steps the others). CPU vs PandaReach-v3: its CPU "
          "time per step over ours (higher is faster).")
    print("Ours measures every step: the CAD truth channel (ROBOTIS' meshes: obstacles, self, table; contacts "
          "confirmed on the meshes), the sphere bound (obstacles, self, table), PyBullet closest points of near pairs "
          "(clearance='both'), contacts.")
    print(f"numpy {np.__version__}, gymnasium {gym.__version__}")


if __name__ == "__main__":
    main()

"""stable-baselines3's ``VecEnv`` over :class:`sim.env.vector.HybridVectorEnv`: SB3 agents step their
sub-environments over several processes, one of them the training process itself.

SB3 does not take Gymnasium's vector envs, and its own ``SubprocVecEnv`` keeps the training
process idle while one worker per sub-environment steps (like Gymnasium's ``AsyncVectorEnv``,
about 1.0x one process on 2 cores; ``HybridVectorEnv`` over 2 processes x 4 sub-environments:
1.8x, see ``benchmarks/env_throughput.py``). :func:`hybrid_vec_env` gives SB3's interface with
SB3's semantics, transition for transition those of its ``DummyVecEnv`` over the same envs: an
episode's end resets the sub-environment in the same step (the final observation in
``info["terminal_observation"]``, ``info["TimeLimit.truncated"]`` for truncations), seeds from
``VecEnv.seed`` used by the next ``reset``, per-environment info dicts.

Example::

    from agents.baselines.vec_env import hybrid_vec_env
    envs = hybrid_vec_env([lambda: gym.make("OpenManipulatorX-ObstacleReach-v0", scenario="single")] * 8,
                          num_processes=2)
    model = stable_baselines3.PPO("MultiInputPolicy", envs)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_CLASS: Any = None


def _plain(value: Any) -> Any:
    """A merged info array's element as the env gave it (NumPy scalars back to Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


def hybrid_vec_env_class() -> Any:
    """The ``VecEnv`` class (built lazily: stable-baselines3 is an optional dependency)."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    from agents.baselines.rl_features import import_sb3

    import_sb3()
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv

    from sim.env.vector import HybridVectorEnv

    class HybridSB3VecEnv(VecEnv):
        """SB3 ``VecEnv`` whose sub-environments a :class:`~sim.env.vector.HybridVectorEnv` steps.

        Args:
            env_fns: functions making the sub-environments (Gymnasium envs with equal spaces).
            num_processes: processes they are spread over, this one included (``None``: one per
                available core, at most ``len(env_fns)``).
            info_type: the type of the per-environment info dicts returned (e.g. a dict subclass
                that HER's replay buffer copies cheaply); ``dict`` by default.
        """

        def __init__(self, env_fns: Sequence[Callable[[], Any]], num_processes: int | None = None,
                     info_type: type = dict) -> None:
            from sim.env.vector import available_cores

            fns = list(env_fns)
            processes = num_processes if num_processes is not None else min(len(fns), available_cores())
            self.venv = HybridVectorEnv(fns, num_processes=processes)
            self.info_type = info_type
            self._actions: np.ndarray | None = None
            super().__init__(self.venv.num_envs, self.venv.single_observation_space,
                             self.venv.single_action_space)

        # ------------------------------------------------------------------------- stepping
        def reset(self) -> Any:
            options = self._options[0]
            if any(option != options for option in self._options):
                raise ValueError("HybridSB3VecEnv passes one reset options dict to every sub-environment; "
                                 "set the same options for all")
            observations, infos = self.venv.reset(seed=list(self._seeds), options=options or None)
            self.reset_infos = self._split(infos, self.num_envs)
            self._reset_seeds()
            self._reset_options()
            return observations

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self) -> Any:
            observations, rewards, terminated, truncated, infos = self.venv.step(self._actions)
            dones = terminated | truncated
            per_env = self._split(infos, self.num_envs)
            for index, info in enumerate(per_env):
                info["TimeLimit.truncated"] = bool(truncated[index] and not terminated[index])
            if dones.any():
                ended = np.flatnonzero(dones)
                for index in ended:
                    per_env[index]["terminal_observation"] = {key: value[index].copy()
                                                              for key, value in observations.items()}
                fresh, reset_infos = self.venv.reset(options={"reset_mask": dones})
                for key, value in observations.items():
                    value[ended] = fresh[key][ended]
                for index, info in zip(ended, self._split(reset_infos, self.num_envs, ended), strict=True):
                    self.reset_infos[index] = info
            return observations, rewards.astype(np.float32), dones, per_env

        def _split(self, infos: dict[str, Any], count: int, indices: Any = None) -> list[dict[str, Any]]:
            """Gymnasium's merged infos (arrays and ``_key`` masks) as one info dict per sub-environment
            (of ``indices``, default all), in the env's key order."""
            keys = [key for key in infos if not (key.startswith("_") and key[1:] in infos)]
            chosen = range(count) if indices is None else indices
            return [self.info_type((key, _plain(infos[key][index])) for key in keys if infos[f"_{key}"][index])
                    for index in chosen]

        def close(self) -> None:
            self.venv.close()

        # ------------------------------------------------------------------------- attributes
        def _indices(self, indices: Any) -> list[int]:
            if indices is None:
                return list(range(self.num_envs))
            if isinstance(indices, (int, np.integer)):
                return [int(indices)]
            return [int(index) for index in indices]

        def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
            values = self.venv.get_attr(attr_name)
            return [values[index] for index in self._indices(indices)]

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            chosen = set(self._indices(indices))
            try:
                current = list(self.venv.get_attr(attr_name))
            except AttributeError:
                current = [None] * self.num_envs
            self.venv.set_attr(attr_name, [value if index in chosen else current[index]
                                           for index in range(self.num_envs)])

        def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list:
            results = self.venv.call(method_name, *method_args, **method_kwargs)
            return [results[index] for index in self._indices(indices)]

        def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
            # Only this process's sub-environments can be inspected; all are made by the same kind of
            # function, so sub-environment 0 answers for every one.
            from gymnasium import Wrapper

            env, wrapped = self.venv.local_env, False
            while isinstance(env, Wrapper):
                wrapped = wrapped or isinstance(env, wrapper_class)
                env = env.env
            return [wrapped for _ in self._indices(indices)]

        def get_images(self) -> Sequence[np.ndarray | None]:
            return list(self.venv.render())

    _CLASS = HybridSB3VecEnv
    return _CLASS


def hybrid_vec_env(env_fns: Sequence[Callable[[], Any]], *, num_processes: int | None = None,
                   info_type: type = dict) -> Any:
    """An SB3 ``VecEnv`` stepping ``env_fns``' envs over ``num_processes`` processes (see the module doc).

    Raises:
        DependencyNotInstalled: stable-baselines3 is missing (extra ``rl``).
    """
    return hybrid_vec_env_class()(env_fns, num_processes=num_processes, info_type=info_type)

"""Versioned LoRA adapter registry: publish, verify, promote, roll back, remove.

Layout under the registry root (one folder per adapter name — a brand, a market):

    <root>/<name>/v0003/          adapter_model.safetensors, adapter_config.json, manifest.json
    <root>/<name>/PROMOTED.json   {"version": "v0002", "history": [{"version", "at", "action", "forced", "reason"}]}

A version is written into a hidden staging folder, fsynced and renamed into place, so a reader sees a whole
version or none; published weights are never overwritten. manifest.json records what made the adapter
(base, data, hyperparameters, evaluation) and the sha256 of each weight file; it is the only file in a
version that may change afterwards (evaluation results, forced promotions), always rewritten atomically.

    from tuning.registry import Registry
    reg = Registry(root)
    ref = reg.publish("quokka", lambda d: model.save_pretrained(d), {"base": ..., "dataset": ...})
    reg.promote("quokka", ref.version, require_gate=True)

A gated promotion re-checks the recorded verdict against the scorecard it names
(`evaluation.gate.verify_recorded`): manifest["evaluation"]["scorecard"] = {"path", "root", "sha256"}, the
path relative to one of `report_roots` ("home": the onbrand home, whose adapters/ this registry is;
"repo": the repository, where shipped versions keep their reports/).
"""

from __future__ import annotations

import copy
import errno
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from core import atomic
from core.errors import UserError
from core.refs import adapter_key
from evaluation.gate import RecordError, verify_recorded

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")  # no leading '.': hidden names are staging/trash
_VERSION_RE = re.compile(r"^v(\d{4,})$")
_LOOSE_VERSION_RE = re.compile(r"^v?(\d+)$")  # "2", "v2", "0002" all mean v0002
MANIFEST = "manifest.json"
PROMOTED = "PROMOTED.json"
_OWNED_KEYS = ("name", "version", "created", "files")  # set by publish; update_manifest may not change them
_PUBLISH_ATTEMPTS = 100  # concurrent publishers of one name each take the next free number
REPO_ROOT = Path(__file__).resolve().parents[1]  # shipped versions bind scorecards under its reports/


class RegistryError(UserError):
    """A refused registry operation; the message names the adapter, version and field or file."""


WEIGHTS = "adapter_model.safetensors"


@dataclass(frozen=True)
class AdapterRef:
    """One published adapter version: where it lives and what its manifest says."""

    name: str
    version: str
    path: Path  # the version folder
    manifest: dict

    @property
    def key(self) -> str:
        """"name@version" (core/refs.py)."""
        return adapter_key(self.name, self.version)

    @property
    def weights_sha256(self) -> str | None:
        """The adapter weights' sha256 as the manifest records it."""
        return ((self.manifest.get("files") or {}).get(WEIGHTS) or {}).get("sha256")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def way_back(name: str) -> str:
    """What to run when a version of `name` cannot be served: the commands that serve another one."""
    return (f"serve the version promoted before it with `onbrand adapters rollback {name}`, or promote "
            f"another with `onbrand adapters promote {name} VERSION`")


def _format_version(number: int) -> str:
    return f"v{number:04d}"


def _gate_passed(manifest: dict):
    """manifest["evaluation"]["gate"]["passed"], or None where any level is missing or not a mapping."""
    evaluation = manifest.get("evaluation")
    gate = evaluation.get("gate") if isinstance(evaluation, dict) else None
    return gate.get("passed") if isinstance(gate, dict) else None


def _check_json(obj, what: str) -> None:
    try:
        json.dumps(obj, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise RegistryError(f"{what} is not JSON-serializable: {e}") from None


class Registry:
    """Adapter versions under one root folder; each name has its own versions and promoted version."""

    FILES = (WEIGHTS, "adapter_config.json")

    def __init__(self, root: Path, report_roots: dict[str, Path] | None = None):
        self.root = Path(root)
        # where a recorded scorecard may lie, by name, first match wins when binding: the onbrand home (the
        # registry is its adapters/ folder) and the repository (shipped versions' reports/)
        self.report_roots = dict(report_roots) if report_roots is not None else {
            "home": self.root.parent, "repo": REPO_ROOT}

    # --- reading -------------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Adapter names that have at least one published version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and _NAME_RE.fullmatch(p.name) and self.versions(p.name))

    def versions(self, name: str) -> list[str]:
        """Published versions of `name`, oldest first (numeric order); [] for a name never published."""
        folder = self._name_dir(name)
        if not folder.is_dir():
            return []
        return sorted((p.name for p in folder.iterdir() if p.is_dir() and _VERSION_RE.fullmatch(p.name)),
                      key=lambda v: int(v[1:]))

    def promoted(self, name: str) -> str | None:
        """The promoted version of `name`, or None."""
        return self._read_promoted(name)["version"]

    def get(self, name: str, version: str | None = None) -> AdapterRef:
        """The given version of `name`, or its promoted version when `version` is None."""
        known = self._known_versions(name)
        if version is None:
            version = self.promoted(name)
            if version is None:
                raise RegistryError(f"adapter {name!r} has no promoted version; "
                                    f"promote one of: {', '.join(known)}")
        else:
            version = self._normalize_version(name, version)
        if version not in known:
            raise RegistryError(f"adapter {name!r} has no version {version!r}; known versions: {', '.join(known)}")
        path = self._name_dir(name) / version
        return AdapterRef(name=name, version=version, path=path, manifest=self._read_manifest(name, version))

    def verify(self, ref: AdapterRef) -> None:
        """Check that each of FILES exists and matches the size and sha256 recorded in the manifest."""
        what = f"adapter {ref.name}/{ref.version}"
        recorded = ref.manifest.get("files")
        if not isinstance(recorded, dict):
            raise RegistryError(f"{what}: manifest field 'files' is missing or not a mapping ({ref.path / MANIFEST})")
        for fname in self.FILES:
            entry = recorded.get(fname)
            if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
                raise RegistryError(f"{what}: manifest field 'files.{fname}.sha256' is missing")
            path = ref.path / fname
            if not path.is_file():
                raise RegistryError(f"{what}: {fname} is missing from {ref.path}")
            size = path.stat().st_size
            if entry.get("bytes") is not None and size != entry["bytes"]:
                raise RegistryError(f"{what}: {fname} has {size} bytes, the manifest says {entry['bytes']}; "
                                    "the file was changed or truncated")
            actual = atomic.sha256_file(path)
            if actual != entry["sha256"]:
                raise RegistryError(f"{what}: {fname} sha256 {actual[:12]}… does not match the manifest's "
                                    f"{entry['sha256'][:12]}…; the file was changed")

    def list(self) -> list[dict]:
        """One row per (name, version): name, version, promoted, created, parent, notes, gate_passed."""
        rows = []
        for name in self.names():
            current = self.promoted(name)
            for version in self.versions(name):
                m = self._read_manifest(name, version)
                rows.append({"name": name, "version": version, "promoted": version == current,
                             "created": m.get("created"), "parent": m.get("parent"), "notes": m.get("notes"),
                             "gate_passed": _gate_passed(m)})
        return rows

    # --- writing -------------------------------------------------------------------------------------

    def publish(self, name: str, write_files: Callable[[Path], None], manifest: dict) -> AdapterRef:
        """Publish a new version of `name`: `write_files(folder)` must write both FILES into `folder`.

        The manifest keeps the caller's keys and gains name, version, created, files (sha256 and bytes of
        each of FILES) and — unless the caller set one — parent: the currently promoted version (or None).
        If another process takes the same version number first, the version is staged again under the next
        number, so `write_files` may be called more than once, each time with a fresh empty folder.
        """
        self._check_name(name)
        if not isinstance(manifest, dict):
            raise RegistryError(f"adapter {name}: manifest must be a dict, got {type(manifest).__name__}")
        _check_json(manifest, f"adapter {name}: manifest")
        for _ in range(_PUBLISH_ATTEMPTS):
            existing = self.versions(name)
            version = _format_version(int(existing[-1][1:]) + 1 if existing else 1)
            staged = False
            try:
                with atomic.staging_dir(self._name_dir(name) / version) as tmp:
                    write_files(tmp)
                    full = self._stage_manifest(name, version, tmp, manifest)
                    staged = True  # from here on, a failure is the rename into place
            except OSError as e:
                if staged and e.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    log.info("adapter %s/%s was published concurrently; retrying with the next number", name, version)
                    continue
                raise
            log.info("published adapter %s/%s (parent %s)", name, version, full["parent"])
            return AdapterRef(name=name, version=version, path=self._name_dir(name) / version, manifest=full)
        raise RegistryError(f"adapter {name}: gave up after {_PUBLISH_ATTEMPTS} concurrent publishes took "
                            "every version number tried")

    def import_version(self, src: Path) -> AdapterRef:
        """Copy a published version folder (e.g. one shipped in the repository) in unchanged, keeping its
        name, version and manifest; verified against its own file hashes before and after the copy."""
        try:
            manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise RegistryError(f"{src}/manifest.json cannot be read: {e}") from None
        name, version = manifest.get("name"), manifest.get("version")
        self._check_name(name)
        if version in self.versions(name):
            raise RegistryError(f"adapter {name}/{version} already exists in {self.root}")
        incoming = AdapterRef(name=name, version=version, path=src, manifest=manifest)
        self.verify(incoming)
        with atomic.staging_dir(self._name_dir(name) / version) as tmp:
            for fname in (*self.FILES, "manifest.json"):
                shutil.copyfile(src / fname, tmp / fname)
        ref = self.get(name, version)
        self.verify(ref)
        return ref

    def promote(self, name: str, version: str, *, force: bool = False, reason: str = "",
                require_gate: bool = False, check: Callable[[AdapterRef], None] | None = None) -> AdapterRef:
        """Make `version` the promoted version of `name` after verifying its files.

        require_gate refuses, unless force, a version whose recorded evaluation does not stand: its
        evaluation.gate.passed is not True, or the scorecard.json it is bound to is missing, has another
        sha256, belongs to another version, or fails the gate when it is run again with the current
        GateConfig (`evaluation.gate.verify_recorded`). A forced promotion needs a reason and is recorded in
        PROMOTED.json's history and in the version's manifest under "promotions", with what that check said
        of the version ("gate": "passed" or the refusal). Promoting the version already promoted changes
        nothing.

        check(ref): the checks serving runs before an adapter answers (`tuning.loading.AdapterSet.load`:
        no pickles, hashes, the base it was trained on, keys, the no-op canary); a UserError it raises
        refuses the promotion, forced or not, so a promoted version always loads. It runs outside the lock
        (it may load a model), after the gate check; the files it checked must still be those promoted.
        """
        if force and not reason.strip():
            raise RegistryError(f"adapter {name}/{version}: a forced promotion needs a reason")
        ref = self.get(name, version)
        if check is not None and self.promoted(name) != ref.version:  # promoted already: nothing to load
            self.verify(ref)
            if require_gate and not force:  # refused anyway: say so before loading anything
                self._gate_problem(ref, refuse=True)
            try:
                check(ref)
            except UserError as e:  # serving's advice (roll back) is not for a version nobody serves yet
                why = str(e).splitlines()[0].replace(f"; {way_back(name)}", "")
                raise RegistryError(f"{why} (not promoted: serving would refuse it)") from None
        with self._lock(name):
            checked = ref.manifest.get("files")
            ref = self.get(name, ref.version)  # re-read under the lock
            self.verify(ref)
            if check is not None and ref.manifest.get("files") != checked:
                raise RegistryError(f"adapter {name}/{ref.version}: its files changed while it was being checked; "
                                    "promote it again")
            problem = None
            if require_gate or force:  # a forced promotion records what the gate check would have said
                problem = self._gate_problem(ref, refuse=not force)
            state = self._read_promoted(name)
            if state["version"] == ref.version:
                log.info("adapter %s/%s is already promoted", name, ref.version)
                return ref
            at = _now()
            gate_note = {"gate": problem or "passed"} if force else {}
            unforced = ref.manifest
            if force:
                promotions = list(ref.manifest.get("promotions") or []) + [
                    {"at": at, "forced": True, "reason": reason, **gate_note}]
                ref = replace(ref, manifest=self._write_manifest(ref, {**ref.manifest, "promotions": promotions}))
            state["history"].append({"version": ref.version, "at": at, "action": "promote",
                                     "forced": bool(force), "reason": reason, **gate_note})
            state["version"] = ref.version
            try:
                atomic.write_json(self._name_dir(name) / PROMOTED, state)
            except BaseException:
                if force:  # not promoted after all: the manifest must not record a promotion that did not happen
                    try:
                        self._write_manifest(ref, unforced)
                    except (OSError, UserError) as e:
                        log.warning("adapter %s/%s: could not take back the forced-promotion record (%s)",
                                    name, ref.version, e)
                raise
        log.info("promoted adapter %s/%s%s", name, ref.version, " (forced)" if force else "")
        return ref

    def rollback(self, name: str, *, reason: str = "") -> AdapterRef:
        """Promote again the version that was promoted before the current one.

        Rollbacks walk back through the promotion history: v1→v2→v3, rollback → v2, rollback → v1.
        """
        self._known_versions(name)
        with self._lock(name):
            state = self._read_promoted(name)
            current = state["version"]
            if current is None:
                raise RegistryError(f"adapter {name!r} has no promoted version to roll back from")
            stack = _promotion_stack(state["history"], current)
            if len(stack) < 2:
                raise RegistryError(f"adapter {name}: nothing to roll back to; {current} is the first version "
                                    "promoted (promote another version explicitly)")
            target = stack[-2]
            if target not in self.versions(name):
                raise RegistryError(f"adapter {name}: {target}, promoted before {current}, has been removed; "
                                    f"promote a version explicitly (known: {', '.join(self.versions(name))})")
            ref = self.get(name, target)
            self.verify(ref)
            state["history"].append({"version": target, "at": _now(), "action": "rollback", "forced": False,
                                     "reason": reason or f"rolled back from {current}"})
            state["version"] = target
            atomic.write_json(self._name_dir(name) / PROMOTED, state)
        log.info("rolled adapter %s back from %s to %s", name, current, target)
        return ref

    def rm(self, name: str, version: str) -> None:
        """Remove a version that is not promoted (its folder is renamed to a hidden name, then deleted)."""
        ref_version = self._normalize_version(name, version)
        if ref_version not in self._known_versions(name):
            raise RegistryError(f"adapter {name!r} has no version {ref_version!r}; "
                                f"known versions: {', '.join(self.versions(name))}")
        with self._lock(name):
            if self.promoted(name) == ref_version:
                raise RegistryError(f"adapter {name}/{ref_version} is the promoted version; promote another "
                                    "version or roll back first")
            folder = self._name_dir(name) / ref_version
            if not folder.is_dir():
                raise RegistryError(f"adapter {name!r} has no version {ref_version!r}; "
                                    f"known versions: {', '.join(self.versions(name))}")
            # rename first: the version disappears from listings at once, even if deleting is slow or fails
            trash = folder.parent / f".{ref_version}.rm.{uuid.uuid4().hex[:12]}"
            os.rename(folder, trash)
            atomic.fsync_dir(folder.parent)
        try:
            shutil.rmtree(trash)
        except OSError as e:
            log.warning("removed adapter %s/%s but could not delete %s: %s", name, ref_version, trash, e)
        log.info("removed adapter %s/%s", name, ref_version)

    def update_manifest(self, name: str, version: str, patch: dict) -> dict:
        """Shallow-merge `patch` into the version's manifest.json, atomically; return the new manifest.

        The keys publish owns (name, version, created, files) cannot be changed.
        """
        if not isinstance(patch, dict):
            raise RegistryError(f"adapter {name}/{version}: manifest patch must be a dict, "
                                f"got {type(patch).__name__}")
        owned = [k for k in _OWNED_KEYS if k in patch]
        if owned:
            raise RegistryError(f"adapter {name}/{version}: manifest field {owned[0]!r} is set by publish "
                                "and cannot be updated")
        _check_json(patch, f"adapter {name}/{version}: manifest patch")
        ref = self.get(name, version)
        with self._lock(name):
            ref = self.get(name, ref.version)
            return self._write_manifest(ref, {**ref.manifest, **copy.deepcopy(patch)})

    # --- internals -----------------------------------------------------------------------------------

    def _gate_problem(self, ref: AdapterRef, refuse: bool) -> str | None:
        """Why the recorded verdict does not stand (None when it does); with refuse, raise it instead."""
        try:
            verify_recorded(ref.manifest.get("evaluation"), ref.key, self.report_roots)
        except RecordError as e:
            if refuse:
                raise RegistryError(f"adapter {ref.name}/{ref.version}: {e}; evaluate it first, or force the "
                                    "promotion with a reason") from None
            return str(e)
        return None

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise RegistryError(f"adapter name {name!r} is not allowed: use 1-64 letters, digits, '-', '_' "
                                "or '.', not starting with '.'")

    def _known_versions(self, name: str) -> list[str]:
        known = self.versions(name)
        if not known:
            raise RegistryError(f"no adapter named {name!r} under {self.root}; "
                                f"known names: {', '.join(self.names()) or 'none'}")
        return known

    def _name_dir(self, name: str) -> Path:
        self._check_name(name)
        return self.root / name

    def _normalize_version(self, name: str, version: str) -> str:
        m = _LOOSE_VERSION_RE.fullmatch(version) if isinstance(version, str) else None
        if m is None:
            raise RegistryError(f"adapter {name}: version {version!r} is not a version id like 'v0002'; "
                                f"known versions: {', '.join(self.versions(name)) or 'none'}")
        return _format_version(int(m.group(1)))

    def _stage_manifest(self, name: str, version: str, folder: Path, manifest: dict) -> dict:
        missing = [f for f in self.FILES if not (folder / f).is_file()]
        if missing:
            raise RegistryError(f"adapter {name}/{version}: write_files did not create "
                                f"{', '.join(missing)} (needs {', '.join(self.FILES)})")
        full = copy.deepcopy(manifest)
        if "parent" not in full:
            full["parent"] = self.promoted(name)
        full.update({
            "name": name,
            "version": version,
            "created": _now(),
            "files": {f: {"sha256": atomic.sha256_file(folder / f), "bytes": (folder / f).stat().st_size}
                      for f in self.FILES},
        })
        atomic.write_json(folder / MANIFEST, full)
        return full

    def _read_manifest(self, name: str, version: str) -> dict:
        path = self._name_dir(name) / version / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RegistryError(f"adapter {name}/{version}: {path} is missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RegistryError(f"adapter {name}/{version}: {path} is not valid JSON ({e})") from None
        if not isinstance(manifest, dict):
            raise RegistryError(f"adapter {name}/{version}: {path} is not a JSON object")
        return manifest

    def _write_manifest(self, ref: AdapterRef, manifest: dict) -> dict:
        atomic.write_json(ref.path / MANIFEST, manifest)
        return manifest

    def _read_promoted(self, name: str) -> dict:
        path = self._name_dir(name) / PROMOTED
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": None, "history": []}
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RegistryError(f"adapter {name}: {path} is not valid JSON ({e})") from None
        if (not isinstance(state, dict) or not isinstance(state.get("history"), list)
                or not (state.get("version") is None or isinstance(state.get("version"), str))
                or not all(isinstance(e, dict) and isinstance(e.get("version"), str) for e in state["history"])):
            raise RegistryError(f"adapter {name}: {path} is not a promotion record "
                                '({"version": ..., "history": [{"version": ...}, ...]})')
        return state

    def _lock(self, name: str):
        """Serialise read-modify-write of PROMOTED.json and manifests between processes (POSIX only)."""
        return atomic.folder_lock(self._name_dir(name))


def _promotion_stack(history: list[dict], current: str) -> list[str]:
    """Replay history: a promotion pushes its version, a rollback to v cuts the stack back to the last v."""
    stack: list[str] = []
    for entry in history:
        v = entry["version"]
        if entry.get("action") == "rollback" and v in stack:
            del stack[len(stack) - stack[::-1].index(v):]
        else:
            stack.append(v)
    if not stack or stack[-1] != current:  # hand-edited record: trust "version" for what is live now
        stack.append(current)
    return stack


def adapter_dataset_rows(manifest: dict) -> tuple[list[dict] | None, str]:
    """The rows of the dataset an adapter was trained on, or None and why not."""
    ds = manifest.get("dataset") or {}
    path = ds.get("path")
    if not isinstance(path, str) or not path:
        return None, "the adapter's manifest names no dataset"
    p = Path(path)
    p = p if p.is_absolute() else REPO_ROOT / p
    if not p.is_file():
        return None, f"the adapter's dataset {path} is not on this machine"
    if ds.get("sha256") and atomic.sha256_file(p) != ds["sha256"]:
        return None, f"{path} has changed since the adapter was trained on it (sha256 differs from the manifest)"
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()], ""

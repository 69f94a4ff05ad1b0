"""The contract fakes (``appliance.fakes``) under the names the tests use."""

from __future__ import annotations

from appliance.contracts import GeneratedScene, RenderResult, StoredVideo
from appliance.errors import CodeRejected
from appliance.fakes import FAKE_VIDEO, GOOD_CODE, DirectoryStorage, ScriptedRenderer, ScriptedSource

FakeGenerator = ScriptedSource
FakeSandbox = ScriptedRenderer
FakeStorage = DirectoryStorage
FakeScene = GeneratedScene
FakeResult = RenderResult
Stored = StoredVideo

__all__ = ["FAKE_VIDEO", "GOOD_CODE", "FakeGenerator", "FakeResult", "FakeSandbox", "FakeScene", "FakeStorage",
           "Stored", "rejected"]


def rejected(reason: str = "line 3: import of 'os' is not allowed") -> CodeRejected:
    return CodeRejected(reason)

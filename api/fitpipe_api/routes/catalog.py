"""GET /api/v1/metrics-catalog: the metrics fitpipe stores, with units and resolutions."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from fitpipe.catalog import METRICS
from fitpipe.contracts import CatalogAnswer
from fitpipe_api.deps import Call, CallerDep
from fitpipe_api.responses import JSONResponse

router = APIRouter(prefix="/metrics-catalog", tags=["catalog"])


@router.get("", summary="Metric names, units, native resolutions, valid ranges", response_model=CatalogAnswer)
async def get_catalog(caller: CallerDep) -> Response:
    return await caller.run(_catalog)  # the token is checked on the database like everywhere


def _catalog(call: Call) -> Response:
    return JSONResponse({"metrics": [m.as_dict() for m in METRICS]})

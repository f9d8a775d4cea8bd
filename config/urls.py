from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import views

urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("health/ready", views.ReadyView.as_view(), name="health-ready"),
    path("health/live", views.LiveView.as_view(), name="health-live"),
    path("metrics", views.metrics_view, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include(("config.api_urls", "api"), namespace="v1")),
    path("api/", include(("config.api_urls", "api"), namespace="api-alias")),
    path("api", views.APINotFoundView.as_view()),
    path("admin/", admin.site.urls),
    path("", include("accounts.page_urls")),
    path("", include("organizations.page_urls")),
    path("", include("billing.page_urls")),
    path("", views.home, name="home"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "config.errors.handler400"
handler403 = "config.errors.handler403"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"

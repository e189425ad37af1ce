from django.urls import path

from . import views, webhook

app_name = "wechat"

urlpatterns = [
    path("", webhook.webhook, name="webhook"),
    path("oauth/", views.oauth_start, name="oauth-start"),
    path("oauth/callback/", views.oauth_callback, name="oauth-callback"),
]

"""The mini program's login exchange, mounted at /api/v1/wechat/ by wuxi_parking.audiences.public."""

from django.urls import path

from . import views

urlpatterns = [
    path("miniprogram/login", views.MiniProgramLoginView.as_view(), name="wechat-miniprogram-login"),
]

"""HTTP routes of the orders service (nginx serves them under /api/orders)."""

from __future__ import annotations

from flask import Blueprint, current_app, g
from sqlalchemy import func, select, update

from chassis.app import database_of
from chassis.openapi import Operation
from chassis.problems import Problem
from chassis.responses import created, page
from chassis.web import json_body, query_args
from orders.models import Order, OrderItem
from orders.schemas import OrderCreate, OrderOut, OrderPage, OrderQuery

blueprint = Blueprint("orders", __name__)

OPERATIONS = [
    Operation("post", "/", "Place an order for an existing user", body=OrderCreate,
              responses={201: OrderOut, 422: None, 503: None}),
    Operation("get", "/", "List orders, optionally of one user (served by a replica)", query=OrderQuery,
              responses={200: OrderPage}),
    Operation("get", "/{id}", "Get an order", path_id=True, responses={200: OrderOut, 404: None}),
    Operation("post", "/{id}/cancel", "Cancel a placed order", path_id=True,
              responses={200: OrderOut, 404: None, 409: None}),
]


def _out(order: Order) -> dict:
    return OrderOut.model_validate(order).model_dump(mode="json")


def _not_found(order_id: int) -> Problem:
    return Problem(404, "Not Found", f"Order {order_id} does not exist.")


@blueprint.post("/")
def create_order():
    data = json_body(OrderCreate)
    current_app.extensions["users_client"].require_user(data.user_id, g.request_id)
    with database_of(current_app).session() as session:
        order = Order(
            user_id=data.user_id,
            status="placed",
            total_cents=sum(item.quantity * item.unit_price_cents for item in data.items),
            items=[OrderItem(**item.model_dump()) for item in data.items],
        )
        session.add(order)
        session.flush()
        session.refresh(order)
        body = _out(order)
    return created(body)


@blueprint.get("/")
def list_orders():
    query = query_args(OrderQuery)
    statement = select(Order)
    if query.user_id is not None:
        statement = statement.where(Order.user_id == query.user_id)
    return page(database_of(current_app), statement, Order.id, query, OrderOut)


@blueprint.get("/<id:order_id>")
def get_order(order_id: int):
    with database_of(current_app).session() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise _not_found(order_id)
        return _out(order)


@blueprint.post("/<id:order_id>/cancel")
def cancel_order(order_id: int):
    with database_of(current_app).session() as session:
        # One statement decides: only a placed order becomes cancelled, even under concurrency.
        cancelled = session.execute(
            update(Order).where(Order.id == order_id, Order.status == "placed")
            .values(status="cancelled", cancelled_at=func.now()).returning(Order.id)
        ).scalar()
        order = session.get(Order, order_id, populate_existing=True)
        if order is None:
            raise _not_found(order_id)
        if cancelled is None:
            raise Problem(409, "Conflict", f"Order {order_id} is already {order.status}.")
        return _out(order)
